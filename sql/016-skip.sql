-- 016-skip.sql -- skipping a poisoned work item on purpose (scripts/pl-skip).
-- A quarantined item stops its pipeline for good (exit 65); the operator who
-- decides that the item must not be applied skips it: pl_skip_item() marks it
-- done in the work table and moves the pipeline's checkpoint onto it (the
-- item must be the next one, which a quarantined item that stopped the
-- pipeline is), so that pg-listen no longer offers it and the next item's
-- frame follows the state's checkpoint; the pipeline moves past it on its
-- next start.  It records who (the database
-- role and the operating-system user), what (the item, its seq, the
-- quarantine rows it resolves) and why in pl_skip, in one transaction.
-- pl-verify leaves skipped items out of its replay.
-- Idempotent; no transaction control (scripts/pl-migrate wraps each file).

CREATE TABLE IF NOT EXISTS pl_skip (
	id bigserial PRIMARY KEY,
	pipeline text NOT NULL REFERENCES pl_pipeline,
	item_id bigint NOT NULL,
	seq bigint,
	db_user text NOT NULL DEFAULT current_user,
	os_user text,
	reason text NOT NULL CHECK (reason <> ''),
	quarantine_ids bigint[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (pipeline, item_id)
);

-- pl_skip_item(pipeline, item, reason, os_user, force): skip the work item
-- whose id column is ITEM.  PIPELINE NULL: the only registered pipeline.
-- Refuses (SQLSTATE) when: PLS01 no such pipeline, several and none named,
-- or it has no work table; PLS02 empty reason; PLS03 the pipeline is running
-- (its pg-write holds the advisory lock); PLS04 no such item; PLS05 the item
-- is processed already; PLS06 the item is not quarantined and FORCE is false;
-- PLS07 the item is not the next unprocessed one of the pipeline.
CREATE OR REPLACE FUNCTION pl_skip_item(p_pipeline text, p_item bigint, p_reason text,
	p_os_user text, p_force boolean) RETURNS pl_skip
LANGUAGE plpgsql AS $$
DECLARE
	pp pl_pipeline;
	n bigint;
	v_done boolean;
	v_seq bigint;
	v_next bigint;
	q bigint[];
	r pl_skip;
BEGIN
	IF p_pipeline IS NULL THEN
		-- as the stages choose (common/pg/pipeline.c): the only pipeline with
		-- a work table; pipelines without one (Redis, JSON-RPC) are never the
		-- implicit default beside it
		SELECT count(*) INTO n FROM pl_pipeline WHERE work_table IS NOT NULL;
		IF n = 0 THEN
			SELECT count(*) INTO n FROM pl_pipeline;
		END IF;
		IF n <> 1 THEN
			RAISE EXCEPTION USING ERRCODE = 'PLS01',
				MESSAGE = format('%s pipelines are registered: name one with --pipeline', n);
		END IF;
		SELECT * INTO pp FROM pl_pipeline ORDER BY work_table IS NULL, name LIMIT 1;
	ELSE
		SELECT * INTO pp FROM pl_pipeline WHERE name = p_pipeline;
		IF NOT FOUND THEN
			RAISE EXCEPTION USING ERRCODE = 'PLS01',
				MESSAGE = format('no pipeline %s in pl_pipeline', p_pipeline);
		END IF;
	END IF;
	IF pp.work_table IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'PLS01',
			MESSAGE = format('pipeline %s has no work table: its items cannot be skipped', pp.name);
	END IF;
	IF coalesce(p_reason, '') = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'PLS02', MESSAGE = 'a reason is required';
	END IF;
	IF NOT pg_try_advisory_xact_lock(hashtextextended('pl_pipeline:' || pp.name, 0)) THEN
		RAISE EXCEPTION USING ERRCODE = 'PLS03',
			MESSAGE = format('pipeline %s is running (its pg-write holds the pipeline lock): stop it first', pp.name);
	END IF;
	EXECUTE format('SELECT %I, %I::bigint FROM %I WHERE %I = $1 FOR UPDATE',
		pp.done_column, pp.order_columns[1], pp.work_table, pp.id_column)
		INTO v_done, v_seq USING p_item;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'PLS04',
			MESSAGE = format('no work item %s in %s', p_item, pp.work_table);
	END IF;
	IF v_done THEN
		RAISE EXCEPTION USING ERRCODE = 'PLS05',
			MESSAGE = format('work item %s of pipeline %s is processed already', p_item, pp.name);
	END IF;
	SELECT array_agg(id ORDER BY id) INTO q FROM pl_quarantine
		WHERE pipeline = pp.name AND driver_id = p_item;
	IF q IS NULL AND NOT p_force THEN
		RAISE EXCEPTION USING ERRCODE = 'PLS06',
			MESSAGE = format('work item %s of pipeline %s is not quarantined (--force skips it anyway)', p_item, pp.name);
	END IF;
	EXECUTE format('SELECT %I::bigint FROM %I WHERE NOT %I ORDER BY %s LIMIT 1',
		pp.id_column, pp.work_table, pp.done_column,
		(SELECT string_agg(format('%I', c), ', ' ORDER BY o) FROM unnest(pp.order_columns) WITH ORDINALITY AS u(c, o)))
		INTO v_next;
	IF v_next IS DISTINCT FROM p_item THEN
		RAISE EXCEPTION USING ERRCODE = 'PLS07',
			MESSAGE = format('work item %s of pipeline %s is not the next one to apply (%s is): skip items in order', p_item, pp.name, v_next);
	END IF;
	EXECUTE format('UPDATE %I SET %I = true WHERE %I = $1', pp.work_table, pp.done_column, pp.id_column)
		USING p_item;
	-- The checkpoint moves onto the skipped item: the next item's pl_prev.
	INSERT INTO pl_checkpoint (pipeline, driver_id, seq) VALUES (pp.name, p_item, v_seq)
		ON CONFLICT (pipeline) DO UPDATE SET driver_id = EXCLUDED.driver_id, seq = EXCLUDED.seq, updated_at = now();
	INSERT INTO pl_skip (pipeline, item_id, seq, os_user, reason, quarantine_ids)
		VALUES (pp.name, p_item, v_seq, p_os_user, p_reason, coalesce(q, '{}'))
		RETURNING * INTO r;
	RETURN r;
END;
$$;
