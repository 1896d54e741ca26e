-- Requester leases (backbone/leases.py): a requester that asked for a lease (a stream gateway
-- replica) has its demand released when it stops renewing. The length is stored with each of its
-- wanted rows so that a restarted owner grants restored requesters a fresh lease of that length.
-- NULL: no lease (the demand lasts until the requester releases it).
ALTER TABLE kis_wanted_subscriptions ADD COLUMN IF NOT EXISTS lease_s double precision;
