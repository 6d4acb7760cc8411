-- The least-privilege role pg-handover needs on PostgreSQL 15 and later, instead of a superuser.
-- Run once on the primary (roles and grants replicate to every standby). Choose your own name and
-- password; `preflight` names any privilege that is missing.
CREATE ROLE handover_ops LOGIN REPLICATION;                -- REPLICATION: create/drop physical slots
GRANT pg_monitor TO handover_ops;                          -- pg_stat_replication, settings, pg_control_*
GRANT pg_signal_backend TO handover_ops;                   -- read-only fence: terminate client sessions
GRANT pg_checkpoint TO handover_ops;                       -- CHECKPOINT before the fence
GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO handover_ops;
GRANT EXECUTE ON FUNCTION pg_reload_conf() TO handover_ops;
GRANT ALTER SYSTEM ON PARAMETER primary_conninfo, primary_slot_name, default_transaction_read_only, synchronous_standby_names TO handover_ops;
