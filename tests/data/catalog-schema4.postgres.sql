--
-- PostgreSQL database dump
--

\restrict 0cOfpfkxQL9AP2eOApOyYDm3a7S88LyZNv8gosZxoftg1Eq0k9LhhpvKPvRJv6G

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: audit_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;


--
-- Name: audit_touch_disputes(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_disputes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'upload:' || OLD.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'upload:' || NEW.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_exclusions(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_exclusions() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'work:' || OLD.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'work:' || NEW.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_fingerprints(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_fingerprints() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'work:' || (SELECT work_id FROM refs WHERE ref_id = OLD.ref_id);
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'work:' || (SELECT work_id FROM refs WHERE ref_id = NEW.ref_id);
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_licenses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_licenses() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'work:' || OLD.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'work:' || NEW.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_notices(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_notices() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'work:' || OLD.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'work:' || NEW.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_refs(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_refs() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'work:' || OLD.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'work:' || NEW.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_reviews(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_reviews() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'upload:' || OLD.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'upload:' || NEW.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_strikes(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_strikes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'upload:' || OLD.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'upload:' || NEW.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_uploads(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_uploads() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'upload:' || OLD.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'upload:' || NEW.upload_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


--
-- Name: audit_touch_works(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_touch_works() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := 'work:' || OLD.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := 'work:' || NEW.work_id;
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: audit; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit (
    audit_id bigint NOT NULL,
    at text NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    upload_id text,
    work_id text,
    config_version text,
    evidence text NOT NULL,
    work_ids text,
    prev_hash text,
    hash text,
    state text
);


--
-- Name: audit_audit_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.audit ALTER COLUMN audit_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.audit_audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: audit_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_groups (
    grp text NOT NULL,
    digest text,
    audit_id bigint NOT NULL,
    mac text NOT NULL
);


--
-- Name: conflicts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.conflicts (
    conflict_id bigint NOT NULL,
    work_id text NOT NULL,
    owner text NOT NULL,
    path text NOT NULL,
    existing_work_id text NOT NULL,
    existing_owner text NOT NULL,
    evidence text NOT NULL,
    created_at text NOT NULL
);


--
-- Name: conflicts_conflict_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.conflicts ALTER COLUMN conflict_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.conflicts_conflict_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: disputes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.disputes (
    dispute_id bigint NOT NULL,
    upload_id text NOT NULL,
    uploader_id text,
    reason text NOT NULL,
    disputed_outcome text NOT NULL,
    filed_at text NOT NULL,
    status text NOT NULL,
    resolved_at text,
    disputed_by text
);


--
-- Name: disputes_dispute_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.disputes ALTER COLUMN dispute_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.disputes_dispute_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: exclusions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.exclusions (
    exclusion_id bigint NOT NULL,
    work_id text NOT NULL,
    ref_id bigint,
    start double precision NOT NULL,
    "end" double precision NOT NULL,
    reason text NOT NULL,
    created_at text NOT NULL
);


--
-- Name: exclusions_exclusion_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.exclusions ALTER COLUMN exclusion_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.exclusions_exclusion_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: fingerprints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fingerprints (
    ref_id bigint NOT NULL,
    signal text NOT NULL,
    code_bytes bigint NOT NULL,
    n bigint NOT NULL,
    codes bytea NOT NULL,
    starts bytea NOT NULL,
    ends bytea NOT NULL,
    variants bytea NOT NULL
);


--
-- Name: licenses; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.licenses (
    work_id text NOT NULL,
    uploader_id text NOT NULL,
    created_at text NOT NULL
);


--
-- Name: meta; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.meta (
    key text NOT NULL,
    value text NOT NULL
);


--
-- Name: notices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.notices (
    notice_id bigint NOT NULL,
    work_id text NOT NULL,
    upload_id text,
    path text NOT NULL,
    ref_id bigint,
    actor text NOT NULL,
    created_at text NOT NULL,
    lifted_at text
);


--
-- Name: notices_notice_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.notices ALTER COLUMN notice_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.notices_notice_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: refs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.refs (
    ref_id bigint NOT NULL,
    work_id text NOT NULL,
    path text NOT NULL,
    sha256 text NOT NULL,
    md5 text NOT NULL,
    size bigint NOT NULL,
    duration double precision NOT NULL,
    has_video bigint NOT NULL,
    has_audio bigint NOT NULL,
    created_at text NOT NULL,
    kind text DEFAULT 'original'::text NOT NULL,
    keep_start double precision,
    keep_end double precision,
    keep_modalities text DEFAULT 'video,audio'::text NOT NULL
);


--
-- Name: refs_ref_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.refs ALTER COLUMN ref_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.refs_ref_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: reviews; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.reviews (
    review_id bigint NOT NULL,
    upload_id text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    created_at text NOT NULL,
    due_at text NOT NULL,
    reviewer text,
    outcome text,
    note text,
    decided_at text,
    dispute_id bigint
);


--
-- Name: reviews_review_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.reviews ALTER COLUMN review_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.reviews_review_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: screen_claims; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.screen_claims (
    claim_id bigint NOT NULL,
    upload_id text,
    path text NOT NULL,
    sha256 text,
    token text NOT NULL,
    pid bigint NOT NULL,
    host text NOT NULL,
    boot_id text,
    proc_start text,
    command text,
    started_at text NOT NULL
);


--
-- Name: screen_claims_claim_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.screen_claims ALTER COLUMN claim_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.screen_claims_claim_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: strikes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.strikes (
    strike_id bigint NOT NULL,
    uploader_id text NOT NULL,
    upload_id text NOT NULL,
    work_ids text NOT NULL,
    reason text NOT NULL,
    created_at text NOT NULL,
    expires_at text NOT NULL,
    revoked_at text,
    revoke_reason text
);


--
-- Name: strikes_strike_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.strikes ALTER COLUMN strike_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.strikes_strike_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: upload_works; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.upload_works (
    upload_pk bigint NOT NULL,
    upload_id text NOT NULL,
    work_id text NOT NULL,
    outcome text,
    matched_seconds double precision NOT NULL,
    upload_coverage double precision NOT NULL,
    reference_coverage double precision NOT NULL,
    modality text NOT NULL,
    method text NOT NULL
);


--
-- Name: uploads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.uploads (
    upload_pk bigint NOT NULL,
    upload_id text,
    uploader_id text,
    declared_use text,
    path text NOT NULL,
    sha256 text,
    size bigint,
    screened_at text NOT NULL,
    status text NOT NULL,
    error text,
    decision text,
    outcome text,
    config_version text,
    result text NOT NULL,
    outcome_by text,
    outcome_at text
);


--
-- Name: uploads_upload_pk_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.uploads ALTER COLUMN upload_pk ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.uploads_upload_pk_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: works; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.works (
    work_id text NOT NULL,
    title text DEFAULT ''::text NOT NULL,
    owner text DEFAULT ''::text NOT NULL,
    created_at text NOT NULL,
    rules text DEFAULT '[]'::text NOT NULL,
    priority bigint DEFAULT 0 NOT NULL
);


--
-- Data for Name: audit; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.audit VALUES (1, '2030-01-01T12:00:00+00:00', 'operator', 'register', NULL, 'film', 'test-config', '{"ref_ids": [1]}', '["film"]', '', '93a207b8b13c3de92f71e8bf58cdf64bcf0afe256bd3e3fd97718d545d5e463d', '{"work:film": "9eb4177e63b36ae3a6bbf525fde8d6496a37b758cc9d7e664ed86dafacbdeec4"}');
INSERT INTO public.audit VALUES (2, '2030-01-01T12:00:00+00:00', 'operator', 'register', NULL, 'song', 'test-config', '{"ref_ids": [2]}', '["song"]', '93a207b8b13c3de92f71e8bf58cdf64bcf0afe256bd3e3fd97718d545d5e463d', 'f0aca071070524f48ab78d3363e419ad7ca8a736f68fc3c5db6f4e4550310e6c', '{"work:song": "4070d42c5a45a71c9e6b596ec6005af0858708d298d4fe83e8d8711b8811e84a"}');
INSERT INTO public.audit VALUES (3, '2030-01-01T12:00:00+00:00', 'system', 'decision', 'up-1', NULL, 'test-config', '{"status": "ok", "decision": "block", "rule": "r", "reasons": ["because"], "error": null, "segments": {"film": [{"ref_id": 1, "modality": "video", "upload_start": 0.333, "upload_end": 12.333, "ref_start": 0.048, "ref_end": 12.048, "speed": 1.0, "similarity": 0.9, "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2, "clean_share": 1.0, "altered_share": 0.0, "signal": "video", "stream": "video 0", "rendition": "", "specificity": 1.0, "background": ""}], "song": [{"ref_id": 1, "modality": "video", "upload_start": 0.333, "upload_end": 3.333, "ref_start": 0.048, "ref_end": 3.048, "speed": 1.0, "similarity": 0.9, "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2, "clean_share": 1.0, "altered_share": 0.0, "signal": "video", "stream": "video 0", "rendition": "", "specificity": 1.0, "background": ""}]}}', '["film", "song"]', 'f0aca071070524f48ab78d3363e419ad7ca8a736f68fc3c5db6f4e4550310e6c', '27b1382ea8fb67d5b0182ebf8149db41e4adaa88154a21cbaff43045eeca6553', '{"upload:up-1": "3aa98a5433faa447531064bfc5cc05809c4e39d074aef11ca4a0446d18dc4b99"}');
INSERT INTO public.audit VALUES (4, '2030-01-01T12:00:00+00:00', 'system', 'decision', 'up-2', 'song', 'test-config', '{"status": "ok", "decision": "review", "rule": "r", "reasons": ["because"], "error": null, "segments": {"song": [{"ref_id": 1, "modality": "video", "upload_start": 0.333, "upload_end": 5.333, "ref_start": 0.048, "ref_end": 5.048, "speed": 1.0, "similarity": 0.9, "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2, "clean_share": 1.0, "altered_share": 0.0, "signal": "video", "stream": "video 0", "rendition": "", "specificity": 1.0, "background": ""}]}}', '["song"]', '27b1382ea8fb67d5b0182ebf8149db41e4adaa88154a21cbaff43045eeca6553', 'd683c5b1ab64f1f809f89c51fdaec703c27d8aaff60005fdde4d4a8cb3011853', '{"upload:up-2": "31db53a60261a2b3d85f3e269ac511f85965754ef731af8e2450514cbe1c956a"}');
INSERT INTO public.audit VALUES (5, '2030-01-01T12:00:00+00:00', 'system', 'decision', 'up-3', NULL, 'test-config', '{"status": "ok", "decision": "allow", "rule": "r", "reasons": ["because"], "error": null, "segments": {}}', '[]', 'd683c5b1ab64f1f809f89c51fdaec703c27d8aaff60005fdde4d4a8cb3011853', '84dbe71655acbbfa69800880bde641f20aaa4536ce5ac5b8e9a5ce2bdd136232', '{"upload:up-3": "ae9e3a9fefe03fb93c262fb8a0612044cbe52bc26ec820017058d0215f2765b1"}');
INSERT INTO public.audit VALUES (6, '2030-01-01T12:00:00+00:00', 'rita', 'review-decision', 'up-2', 'song', 'test-config', '{"review_id": 1, "kind": "screening", "outcome": "allow", "note": "fair use"}', '["song"]', '84dbe71655acbbfa69800880bde641f20aaa4536ce5ac5b8e9a5ce2bdd136232', '99619e83810a0135dc1a2d5a3f6b3116fbd17a86644e73c0cfc8f7a9499cd813', '{}');
INSERT INTO public.audit VALUES (7, '2030-01-01T12:00:00+00:00', 'rita', 'outcome-change', 'up-2', 'song', 'test-config', '{"from": "review", "to": "allow", "why": "review 1: fair use", "by": "review", "review_outcome": "allow"}', '["song"]', '99619e83810a0135dc1a2d5a3f6b3116fbd17a86644e73c0cfc8f7a9499cd813', '3cca506a3a0e8af732d1069789d4161b1f36ba4ab55d4d2db36df592cc6d1549', '{"upload:up-2": "611fe90c9173f66c325f71e85b25c1d043d7ec7534723bf56cb526fdfd10c446"}');
INSERT INTO public.audit VALUES (8, '2030-01-01T12:00:00+00:00', 'operator', 'outcome-change', 'up-1', NULL, 'test-config', '{"from": "block", "to": "review", "why": "released: exclusion", "by": "release", "reasons": ["seconds excluded"]}', '["film", "song"]', '3cca506a3a0e8af732d1069789d4161b1f36ba4ab55d4d2db36df592cc6d1549', '66de4c66725cceb69f6c7d11e7aced33d64b789c10aec16585b91370a892e6f4', '{}');
INSERT INTO public.audit VALUES (9, '2030-01-01T12:00:00+00:00', 'operator', 'review-opened', 'up-1', NULL, 'test-config', '{"review_id": 2, "why": "released: exclusion"}', '["film", "song"]', '66de4c66725cceb69f6c7d11e7aced33d64b789c10aec16585b91370a892e6f4', 'ab4908f7dbd3a94c5711619646569dce2cfc54ac2c82db4ea3fb8fb65d2a9d9b', '{"upload:up-1": "e2d0df57299f4e2bae75eaaa9c4aaf4361833779728d46e4a1af951e6c6fbde4"}');


--
-- Data for Name: audit_groups; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.audit_groups VALUES ('work:film', '9eb4177e63b36ae3a6bbf525fde8d6496a37b758cc9d7e664ed86dafacbdeec4', 1, '67e748a0d3382e47f7d9dc4a5baf7506ec8529a62d763779cc0a30e843be75ec');
INSERT INTO public.audit_groups VALUES ('work:song', '4070d42c5a45a71c9e6b596ec6005af0858708d298d4fe83e8d8711b8811e84a', 2, '17d6209cca039de38aa94e772402dc7c2a0ef997bfd63fb6d9f8c4dba7a293c2');
INSERT INTO public.audit_groups VALUES ('upload:up-3', 'ae9e3a9fefe03fb93c262fb8a0612044cbe52bc26ec820017058d0215f2765b1', 5, '01519f337c9ed97b24277222400e262fef6acba6ca389d6c18d60690c1778e08');
INSERT INTO public.audit_groups VALUES ('upload:up-2', '611fe90c9173f66c325f71e85b25c1d043d7ec7534723bf56cb526fdfd10c446', 7, 'dad149a02ba681014dedee91ce8952c24b3b1950cafce79118dce0b7c7657129');
INSERT INTO public.audit_groups VALUES ('upload:up-1', 'e2d0df57299f4e2bae75eaaa9c4aaf4361833779728d46e4a1af951e6c6fbde4', 9, 'ccef6e734c3ae74a4b1c258f6aa7e9a85520ebfd69cdd5fda84cfae7448cefe4');


--
-- Data for Name: conflicts; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: disputes; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: exclusions; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: fingerprints; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.fingerprints VALUES (1, 'video', 32, 40, '\xffe42279f3bd068366a852c1bb9651f3cd18ec08f6a4e724d26facd2aeb0daf2a972cd3fa02fd44f487078de451f5f6c246dee453351e4d3ca3aca414c46c1682afad1a4022cb28c6202f315321d0e07353297dd2e3ce6c0a49c7fd69ac2c38948994ad13a4c69540ad5e273a876d6c94519b91f242d9e4d2e0cda1f0c7018740b8216fa818e50225db52062a5693267552564e784a41534ecfd938092f72643f316130531e617c04597e00f4ddec84776fc8c7fc779357c4da6ef1dd79711fb0035c5bf742a2ff6de23941764d58bb90aa10b4bdcd78d8ab947c8ec8957e24619f2d2b9737d20290250945229084df82e59ce6b21121d84d8fcff4a685ea91d448fb26c4d069d9fa11da2745fb4d4c6d6d0e35ccac8ed9cb38cd5c5ba05d4eac762646d3ec2220ad56df1b73ea05187e3a541df5209977503723a5e5b24f60f213c097538152ea47a6723c54c2546da2a03003789fbca9727fdefcd0fbf95425f213a58b17902d75c05e29474526e82406a76ac2a9dc98276f81efb7296c6c0f27fdb0df237de253ce4898b810ed3d1b302ab1103e4ebae3e366ec2662f7fc9809993df5dc30d319ee0268ed7bc67cd2db9a55bd59afa3064c8bf7ae0a1e01459e15138ad27f0da379ae9aa40137ddc8e0d0bd732bc64e08bb37f4f4b13cf788e290f9e020928462e3260eb23c5d001906096d6f0f64da55c19dc403afb4bb88cc3bb693adde7d51cd28cff3125294811175478ad891837c3604ab1a838aba39bae34d8d31218cedbbf17fa6222b3f6556418e597cb88267010ce0a6545727bb071525847190ce5ca8503ccda2c376c3a2057936d9be9965c9e10e462054506da845e7dfedd67ac312dfb734b6449ebe18956f325d3aad35e29e476c974b1e286b1c212db0c0da91e36a2446d83dc3e5e76f2adb087bdc4dd2573e3e0503036aaa325df746dced4a0ba835022480e10447e99c5592b53d3c05beb75f1251d2a27d74c2531a20960216ad5c1a2c0155126301008c576fbb0c27685bef8e2b62d7c34788f390b7165c1f74f807db87d01eb2975a27eda3243f500ec8db607d36bee0f1e9c77a71d1bca55385d2dc516a21a0270c4257c6361a253450610ddacb972de35814dc363a77353cc284fe0646e2a6828e276b708ded157fb50689bd3a16a6e8a15d3236ecf926ca444e9db7f5740742ff71ae92d8b8089e1df3d83403284f30dc2e91b03ffacd2be13615e433ec0f19125fb10c2414b67a24fa795bc12daeed4e59c62ff41a87fd2eb39645cc375e0282c2e27a9b2489604c646baf0206af034219b2a5160b73997112881c16b7608d67a56683caa89c17492b1c2b7742f646538a8102696ca7e8374f791f5d6afa9dcb2ad2cfab9efef5b92b31d715d3ad41a48bc19ca72f0da64921a8f215e46a174252992171cbdbb3d0b49a30734cf5c5a68c48aa7488fad4d2d38146b5034b7e6b68be723500c9b3debb497a293145e4c239bacc0f8c3f5ade1846350c622b4552822c187cadfff50b3a26b5fc23fbd79b61a30d4982c036c5738e1edeaaa3109fb139a8bb0d8bcaf5bea5b1780a8d3998fb4c3bb134fc7bb1630020b7dc558d68f94177c36243984437262f82142359bea83788d81a89a47468859fbc84a1381f5cf8a854b7eabf2e5de39cec4c5b640cb0ba88f8676a220e9e10228268b657e16462008f7004e787daea1d1668e2dedbae078944b66a31ca39de2d4d80230a3cde1a1dc1fe41618f89e95ccbba42fc4b246481530f3a949ec4d577a64b260f6f059ca5d3b8b85f117bdb75ad7', '\x0000000000000000000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d400000000000001e400000000000001f4000000000000020400000000000802040000000000000214000000000008021400000000000002240000000000080224000000000000023400000000000802340', '\x000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d400000000000001e400000000000001f40000000000000204000000000008020400000000000002140000000000080214000000000000022400000000000802240000000000000234000000000008023400000000000002440', '\x01000101000202010200020202010102000102000200000101000202000001020100020101020101');
INSERT INTO public.fingerprints VALUES (1, 'audio', 4, 30, '\xc1586bd64803f9426471fb1b63ea694c1eb1ef691f1971d0fd6f86739dcd8717d5e4ba552530a099692c2dd053f182ba11fb2bfee4481a309f9e56e1e0161e0e6de4e78e7a646446cbc98b33b2874da8b98e424e79a4f08f82d59942017b6a26162dcabf39e4c06ed413c0ad581157ab4d8afbf1c89d3b6c', '\x0000000000000000000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d40', '\x000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d400000000000001e40', '\x010100000101000100020102020201020100000200010202000200010101');
INSERT INTO public.fingerprints VALUES (2, 'video', 32, 40, '\xc1586bd64803f9426471fb1b63ea694c1eb1ef691f1971d0fd6f86739dcd8717d5e4ba552530a099692c2dd053f182ba11fb2bfee4481a309f9e56e1e0161e0e6de4e78e7a646446cbc98b33b2874da8b98e424e79a4f08f82d59942017b6a26162dcabf39e4c06ed413c0ad581157ab4d8afbf1c89d3b6c7da740386f5f18a218f458eff0e1a9f75e2f2ede1056ddae2ee852616a864164a4192f0acfc8ef2f40a03e55d0e09058ca7269943a38d582e90445b1c34c26e4bed484e0c85b8bc6ace502fa3c0e7251bc1a4de8807a99ecef0c4a39dd8c8d78f863c491f22d9ab1bfd749b32bf0711ba557197adc5dc31a670a34f5db34b03398b8f772374b6be2e434b285ba1f08ae291ad07f3c8d67d9651e0d987cc6f9a444e42f749e2913685a31f697f1773e84497ce9c814eaeb975757c078a6c3b3dc215d8b36f5f72c70a0fa757c0cd969e4bb58bb70a38d1c9d4f699713ddae50d44097c171039a807f39c9c41848de48b166f807a2f05dca565b95e8c4bd16d885a72a900e896a5a37dbf53d4215b6c719ffdc4780d3f5e1099592ab85fcf5b2b3cf434a941da3d874223a8444b2e7d1e5a37e62520691ced53fca9e714098956258d485b1080343f9fcd81ac93e609197cd14571bcbed10c43fe11dc9b4e33d6865cde85cfc3038329c6421fb1594f92b06e1607eff87632e01835ac995ff929ac0078128bd81d51c12f57818efde180531d446dbfe493fd5635f2661cc017319e807364714825973effdce89133e0e7d55b8599e2c2cca9ed9c20ea0d6170781f9621c7263b8f5eff49feed1bffd19c055ef130e853c1093097a98e1f78b059e75d32631ca5bad819ed5a88c41a1faf63faf788c6a2a043afe460f1c1c1564b01e180bfce1d01a8e546eb118dc48c10a193b13c8837cd04b912b7d7bf1cf5aedfc5eb440143ed9c8364bbe1507e64803c17bb40801b4ef4b996b197b759a82027531a89ca2dfd4d301b27481ef0c411ce6e6dcd2f161b50e60769582efb45cfb77531c5c46872472ec22fc401e34825198ab553d39248c0c5f5e40bd3c84bc6328d9e2ff53bcb45d4ca353c840d60286255a46a03cb1bc01dedf52de33e5e025382fe1f5931fbb355c6510c475e7c470b98f86c5dfc0634d9ccf0742e80a039d2b0ddb007a1c12497300b4ac7db5dde85e4433770d1c3df666a0134a931f370fff087cae10f08435101054f98e492290f2f727f621fd49c5ffde93b05be46310d01ddfd68d3a4f2f78be2e16229ceb74f1f3441c4b512fab84eafcfabf7f40e7c84b5aedacf0f1ddea2e8b3e0e8e33cb04b111408fda7f0d4d3b23c566d904faa920d0cfdc41589d425667f5a1af0b164944be1b210343411b5515125cbde99e0919750a8a4fb96202610683f99a547292b2bd986f49f9cd64ec2be3b2b1f3d2a30dc6c0453bfa8b8c7bca975713decacc0d2f7864f0ef6797d71cd445a477f90279256108b6eb9ab8fc880b140ebbf795e509cf02c7420b7b45fe604c25f8e174643aa2e657338fad94fe1d2b0cb1b67a0977a080e74d316e9c827abb09778c6e23f48e371e0e4ae4384d82bec4001bb3bdac9523d9d000ba32c005e4aa26e8e921fcd29b62c0ab5885187ae04d7c34fc74116ea46700420a1386305530317711bcab86ff457bd192f70c8925b61c1e270c3e1e23bfc0f78ec58925d022a4f1a5e2d6a2450ba23ed8d54c6eaa470aa455c6c299165a2f5ce1038a635fc883b20ff465a12f2240164afff2b815af4f78146780d85355a796c628b788bdb660a00da33862500b5bb1', '\x0000000000000000000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d400000000000001e400000000000001f4000000000000020400000000000802040000000000000214000000000008021400000000000002240000000000080224000000000000023400000000000802340', '\x000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d400000000000001e400000000000001f40000000000000204000000000008020400000000000002140000000000080214000000000000022400000000000802240000000000000234000000000008023400000000000002440', '\x02020100020100020001010202010200020100020002000000000102020202010200010102020101');
INSERT INTO public.fingerprints VALUES (2, 'audio', 4, 30, '\xf8c2becf931aed15f5d3ef2d059d9f3c36ec6d2ec75220cd240786de399208950e0f160a90d0181807290b553b68e16ee2c9089f1a1ba37a2129c94346a6e42832b300b1893f0dbcff405e08089c191d9d92be73db872764ed7f48e3a815498410998c6b50a33d6e2fe594aa616e38964ac13e2ceeefe2bc', '\x0000000000000000000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d40', '\x000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f000000000000f83f000000000000fc3f000000000000004000000000000002400000000000000440000000000000064000000000000008400000000000000a400000000000000c400000000000000e4000000000000010400000000000001140000000000000124000000000000013400000000000001440000000000000154000000000000016400000000000001740000000000000184000000000000019400000000000001a400000000000001b400000000000001c400000000000001d400000000000001e40', '\x000202020002020201010002000102000102020001000001010001010000');


--
-- Data for Name: licenses; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: meta; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.meta VALUES ('schema_version', '4');
INSERT INTO public.meta VALUES ('generation', '2');
INSERT INTO public.meta VALUES ('audit_head', '{"records": 9, "last": "ab4908f7dbd3a94c5711619646569dce2cfc54ac2c82db4ea3fb8fb65d2a9d9b", "keyed_from": 1, "last_id": 9, "seal": "4aa7a1a57049174ba28a6b8f40fa2253cc9117e2b13dc25fae09ef495c192e85"}');


--
-- Data for Name: notices; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: refs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.refs VALUES (1, 'film', '/media/a.mp4', 'sha-a.mp4', 'md5-a.mp4', 1001, 12, 1, 1, '2026-12-02T12:35:54+00:00', 'original', NULL, NULL, 'video,audio');
INSERT INTO public.refs VALUES (2, 'song', '/media/s.m4a', 'sha-s.m4a', 'md5-s.m4a', 1002, 12, 1, 1, '2026-12-02T12:35:54+00:00', 'original', NULL, NULL, 'video,audio');


--
-- Data for Name: reviews; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.reviews VALUES (1, 'up-2', 'screening', 'decided', '2030-01-01T12:00:00+00:00', '2030-01-04T12:00:00+00:00', 'rita', 'allow', 'fair use', '2030-01-01T12:00:00+00:00', NULL);
INSERT INTO public.reviews VALUES (2, 'up-1', 'screening', 'pending', '2030-01-01T12:00:00+00:00', '2030-01-04T12:00:00+00:00', NULL, NULL, NULL, NULL, NULL);


--
-- Data for Name: screen_claims; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: strikes; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: upload_works; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.upload_works VALUES (1, 'up-1', 'film', 'block', 12, 0.6, 0.5, 'video', 'fingerprint');
INSERT INTO public.upload_works VALUES (1, 'up-1', 'song', 'review', 3, 0.15, 0.5, 'video', 'fingerprint');
INSERT INTO public.upload_works VALUES (2, 'up-2', 'song', 'review', 5, 0.25, 0.5, 'video', 'fingerprint');


--
-- Data for Name: uploads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.uploads VALUES (3, 'up-3', 'erin', NULL, '/uploads/u.mp4', 'sha-up', 10, '2030-01-01T12:00:00+00:00', 'ok', NULL, 'allow', 'allow', NULL, '{"upload": "u.mp4", "status": "ok", "error": null, "error_code": null, "decision": "allow", "rule": "r", "reasons": ["because"], "duration": 20.0, "sha256": "sha-up", "review_id": null, "matches": [], "works": [], "already_screened_at": null, "warnings": [], "streams": [], "timings": {}}', 'system', '2030-01-01T12:00:00+00:00');
INSERT INTO public.uploads VALUES (2, 'up-2', 'erin', NULL, '/uploads/u.mp4', 'sha-up', 10, '2030-01-01T12:00:00+00:00', 'ok', NULL, 'review', 'allow', NULL, '{"upload": "u.mp4", "status": "ok", "error": null, "error_code": null, "decision": "review", "rule": "r", "reasons": ["because"], "duration": 20.0, "sha256": "sha-up", "review_id": 1, "matches": [{"work_id": "song", "modality": "video", "method": "fingerprint", "segments": [{"ref_id": 1, "modality": "video", "upload_start": 0.333, "upload_end": 5.333, "ref_start": 0.048, "ref_end": 5.048, "speed": 1.0, "similarity": 0.9, "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2, "clean_share": 1.0, "altered_share": 0.0, "signal": "video", "stream": "video 0", "rendition": "", "specificity": 1.0, "background": ""}], "matched_seconds": 5.0, "upload_coverage": 0.25, "reference_coverage": 0.5, "score": 0.9, "modality_seconds": {"video": 5.0}, "signals": ["video"], "background": ""}], "works": [{"work_id": "song", "outcome": "review", "rule": "r", "band": "substantial"}], "already_screened_at": null, "warnings": [], "streams": [], "timings": {}}', 'review', '2030-01-01T12:00:00+00:00');
INSERT INTO public.uploads VALUES (1, 'up-1', 'erin', NULL, '/uploads/u.mp4', 'sha-up', 10, '2030-01-01T12:00:00+00:00', 'ok', NULL, 'block', 'review', NULL, '{"upload": "u.mp4", "status": "ok", "error": null, "error_code": null, "decision": "block", "rule": "r", "reasons": ["because"], "duration": 20.0, "sha256": "sha-up", "review_id": null, "matches": [{"work_id": "film", "modality": "video", "method": "fingerprint", "segments": [{"ref_id": 1, "modality": "video", "upload_start": 0.333, "upload_end": 12.333, "ref_start": 0.048, "ref_end": 12.048, "speed": 1.0, "similarity": 0.9, "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2, "clean_share": 1.0, "altered_share": 0.0, "signal": "video", "stream": "video 0", "rendition": "", "specificity": 1.0, "background": ""}], "matched_seconds": 12.0, "upload_coverage": 0.6, "reference_coverage": 0.5, "score": 0.9, "modality_seconds": {"video": 12.0}, "signals": ["video"], "background": ""}, {"work_id": "song", "modality": "video", "method": "fingerprint", "segments": [{"ref_id": 1, "modality": "video", "upload_start": 0.333, "upload_end": 3.333, "ref_start": 0.048, "ref_end": 3.048, "speed": 1.0, "similarity": 0.9, "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2, "clean_share": 1.0, "altered_share": 0.0, "signal": "video", "stream": "video 0", "rendition": "", "specificity": 1.0, "background": ""}], "matched_seconds": 3.0, "upload_coverage": 0.15, "reference_coverage": 0.5, "score": 0.9, "modality_seconds": {"video": 3.0}, "signals": ["video"], "background": ""}], "works": [{"work_id": "film", "outcome": "block", "rule": "r", "band": "substantial"}, {"work_id": "song", "outcome": "review", "rule": "r", "band": "substantial"}], "already_screened_at": null, "warnings": [], "streams": [], "timings": {}}', 'release', '2030-01-01T12:00:00+00:00');


--
-- Data for Name: works; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.works VALUES ('film', 'Film', 'A', '2026-12-02T12:35:54+00:00', '[]', 0);
INSERT INTO public.works VALUES ('song', 'Song', 'B', '2026-12-02T12:35:54+00:00', '[]', 0);


--
-- Name: audit_audit_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_audit_id_seq', 9, true);


--
-- Name: conflicts_conflict_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.conflicts_conflict_id_seq', 1, false);


--
-- Name: disputes_dispute_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.disputes_dispute_id_seq', 1, false);


--
-- Name: exclusions_exclusion_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.exclusions_exclusion_id_seq', 1, false);


--
-- Name: notices_notice_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.notices_notice_id_seq', 1, false);


--
-- Name: refs_ref_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.refs_ref_id_seq', 2, true);


--
-- Name: reviews_review_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.reviews_review_id_seq', 2, true);


--
-- Name: screen_claims_claim_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.screen_claims_claim_id_seq', 1, false);


--
-- Name: strikes_strike_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.strikes_strike_id_seq', 1, false);


--
-- Name: uploads_upload_pk_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.uploads_upload_pk_seq', 3, true);


--
-- Name: audit_groups audit_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_groups
    ADD CONSTRAINT audit_groups_pkey PRIMARY KEY (grp);


--
-- Name: audit audit_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (audit_id);


--
-- Name: conflicts conflicts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conflicts
    ADD CONSTRAINT conflicts_pkey PRIMARY KEY (conflict_id);


--
-- Name: disputes disputes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.disputes
    ADD CONSTRAINT disputes_pkey PRIMARY KEY (dispute_id);


--
-- Name: exclusions exclusions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.exclusions
    ADD CONSTRAINT exclusions_pkey PRIMARY KEY (exclusion_id);


--
-- Name: fingerprints fingerprints_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fingerprints
    ADD CONSTRAINT fingerprints_pkey PRIMARY KEY (ref_id, signal);


--
-- Name: licenses licenses_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.licenses
    ADD CONSTRAINT licenses_pkey PRIMARY KEY (work_id, uploader_id);


--
-- Name: meta meta_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.meta
    ADD CONSTRAINT meta_pkey PRIMARY KEY (key);


--
-- Name: notices notices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notices
    ADD CONSTRAINT notices_pkey PRIMARY KEY (notice_id);


--
-- Name: refs refs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refs
    ADD CONSTRAINT refs_pkey PRIMARY KEY (ref_id);


--
-- Name: reviews reviews_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reviews
    ADD CONSTRAINT reviews_pkey PRIMARY KEY (review_id);


--
-- Name: screen_claims screen_claims_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.screen_claims
    ADD CONSTRAINT screen_claims_pkey PRIMARY KEY (claim_id);


--
-- Name: screen_claims screen_claims_upload_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.screen_claims
    ADD CONSTRAINT screen_claims_upload_id_key UNIQUE (upload_id);


--
-- Name: strikes strikes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.strikes
    ADD CONSTRAINT strikes_pkey PRIMARY KEY (strike_id);


--
-- Name: upload_works upload_works_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.upload_works
    ADD CONSTRAINT upload_works_pkey PRIMARY KEY (upload_pk, work_id);


--
-- Name: uploads uploads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_pkey PRIMARY KEY (upload_pk);


--
-- Name: uploads uploads_upload_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_upload_id_key UNIQUE (upload_id);


--
-- Name: works works_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.works
    ADD CONSTRAINT works_pkey PRIMARY KEY (work_id);


--
-- Name: refs_sha256; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX refs_sha256 ON public.refs USING btree (sha256);


--
-- Name: refs_work; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX refs_work ON public.refs USING btree (work_id);


--
-- Name: reviews_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX reviews_status ON public.reviews USING btree (status);


--
-- Name: screen_claims_path; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX screen_claims_path ON public.screen_claims USING btree (path);


--
-- Name: strikes_uploader; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX strikes_uploader ON public.strikes USING btree (uploader_id);


--
-- Name: upload_works_work; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX upload_works_work ON public.upload_works USING btree (work_id);


--
-- Name: uploads_path; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_path ON public.uploads USING btree (path);


--
-- Name: uploads_uploader; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_uploader ON public.uploads USING btree (uploader_id);


--
-- Name: audit audit_no_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_no_delete BEFORE DELETE ON public.audit FOR EACH ROW EXECUTE FUNCTION public.audit_append_only();


--
-- Name: audit audit_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON public.audit FOR EACH STATEMENT EXECUTE FUNCTION public.audit_append_only();


--
-- Name: audit audit_no_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_no_update BEFORE UPDATE ON public.audit FOR EACH ROW EXECUTE FUNCTION public.audit_append_only();


--
-- Name: disputes audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.disputes FOR EACH ROW EXECUTE FUNCTION public.audit_touch_disputes();


--
-- Name: exclusions audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.exclusions FOR EACH ROW EXECUTE FUNCTION public.audit_touch_exclusions();


--
-- Name: fingerprints audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.fingerprints FOR EACH ROW EXECUTE FUNCTION public.audit_touch_fingerprints();


--
-- Name: licenses audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.licenses FOR EACH ROW EXECUTE FUNCTION public.audit_touch_licenses();


--
-- Name: notices audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.notices FOR EACH ROW EXECUTE FUNCTION public.audit_touch_notices();


--
-- Name: refs audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.refs FOR EACH ROW EXECUTE FUNCTION public.audit_touch_refs();


--
-- Name: reviews audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.reviews FOR EACH ROW EXECUTE FUNCTION public.audit_touch_reviews();


--
-- Name: strikes audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.strikes FOR EACH ROW EXECUTE FUNCTION public.audit_touch_strikes();


--
-- Name: uploads audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.uploads FOR EACH ROW EXECUTE FUNCTION public.audit_touch_uploads();


--
-- Name: works audit_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_touch AFTER INSERT OR DELETE OR UPDATE ON public.works FOR EACH ROW EXECUTE FUNCTION public.audit_touch_works();


--
-- Name: exclusions exclusions_work_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.exclusions
    ADD CONSTRAINT exclusions_work_id_fkey FOREIGN KEY (work_id) REFERENCES public.works(work_id) ON DELETE CASCADE;


--
-- Name: fingerprints fingerprints_ref_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fingerprints
    ADD CONSTRAINT fingerprints_ref_id_fkey FOREIGN KEY (ref_id) REFERENCES public.refs(ref_id) ON DELETE CASCADE;


--
-- Name: licenses licenses_work_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.licenses
    ADD CONSTRAINT licenses_work_id_fkey FOREIGN KEY (work_id) REFERENCES public.works(work_id) ON DELETE CASCADE;


--
-- Name: refs refs_work_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refs
    ADD CONSTRAINT refs_work_id_fkey FOREIGN KEY (work_id) REFERENCES public.works(work_id) ON DELETE CASCADE;


--
-- Name: upload_works upload_works_upload_pk_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.upload_works
    ADD CONSTRAINT upload_works_upload_pk_fkey FOREIGN KEY (upload_pk) REFERENCES public.uploads(upload_pk) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict 0cOfpfkxQL9AP2eOApOyYDm3a7S88LyZNv8gosZxoftg1Eq0k9LhhpvKPvRJv6G

