"""`make run`: start Ray, PostgreSQL, the simulator, the actors and the Serve app; stop exactly that."""
