-- Warehouses written before trace ids were stored: add the columns (null for the rows already there).
ALTER TABLE events ADD COLUMN IF NOT EXISTS trace_id VARCHAR;
ALTER TABLE events ADD COLUMN IF NOT EXISTS span_id VARCHAR;
ALTER TABLE turns ADD COLUMN IF NOT EXISTS trace_id VARCHAR;
ALTER TABLE turns ADD COLUMN IF NOT EXISTS span_id VARCHAR;
