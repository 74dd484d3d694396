-- Indexes for the statements every turn runs, so a turn costs the same
-- whatever the size of the CRM (tests/api/per_turn_queries.rs plans every
-- statement a turn makes and refuses a sequential scan of a large table).
-- Each leads with tenant_id, which the row-level security policy adds to
-- every query.

-- get_customer_history: the customer's latest messages, newest first.
CREATE INDEX messages_by_customer ON messages (tenant_id, customer_id, created_at DESC);
-- get_customer_history: the customer's recent escalations.
CREATE INDEX escalations_by_customer ON escalations (tenant_id, customer_id, created_at DESC);
-- create_ticket / get_customer_history: the customer's open tickets.
CREATE INDEX tickets_by_customer ON tickets (tenant_id, customer_id, number DESC);
-- (Rehydration's "the customer's open, else latest, conversation" has
-- conversations_by_customer.)
