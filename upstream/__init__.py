"""I/O around the pure core for the one KIS connection per app key (no Ray here).

`ws_session` (the WebSocket loop), `rest_client` (rate-limited REST with retries), `token_keeper`
(single-flight, persisted access token), `state_store` (Postgres), `batcher` (micro-batches to
routers), `service` (all of it wired together; the Ray actor is a thin shell around it).
"""
