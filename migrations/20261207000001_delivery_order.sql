-- Delivery of replies: one acceptance per reply, in commit order per
-- customer and channel.
--
-- `send_started_at` is set, and committed, before the first request that
-- may reach the provider. A reply that has it but no provider id is in
-- doubt: the attempt may have been accepted before its dispatcher died.
-- The next attempt asks the provider first (where its API allows) and
-- sends only if the provider does not have it.
ALTER TABLE messages ADD COLUMN send_started_at timestamptz;

-- A reply's predecessors: the customer's replies on the same channel that
-- are queued and not yet settled. Pending rows are few, so the index is
-- small whatever the size of the table.
CREATE INDEX messages_pending_replies ON messages (tenant_id, customer_id, channel)
    WHERE direction = 'outbound' AND delivery_status = 'pending';
CREATE INDEX messages_pending_by_age ON messages (created_at)
    WHERE direction = 'outbound' AND delivery_status = 'pending';

-- Commit order of replies is the order of their outbox rows.
CREATE INDEX outbox_by_message ON outbox (message_id) WHERE message_id IS NOT NULL;
