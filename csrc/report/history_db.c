/* SPDX-License-Identifier: MIT */
/* history_db.c: the history database: SQLite (libsqlite3) or PostgreSQL (libpq) behind one
 * interface, with the versioned schema and its forward migrations. */
#include "history.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RM_HAVE_SQLITE3
#include <sqlite3.h>
#endif
#ifdef RM_HAVE_LIBPQ
#include <libpq-fe.h>
#endif

/* Advisory lock key that PostgreSQL writers take in turn ("resmon" in ASCII). */
#define HDB_PG_LOCK 0x7265736d6f6eLL
/* Bytes of one COPY line buffered before it is sent. */
#define HDB_COPY_BUF 65536
/* Columns of one bulk insert. */
#define HDB_MAX_COLS 32

/* ---- the schema: step N takes a database from version N-1 to N ----
 * "@ID" is the backend's auto-increment key. Steps are never edited once
 * released: a change is a new step (docs/history.md). */
static const char *const schema_steps[HDB_SCHEMA_VERSION] = {
    /* 1: runs, test ids, test instances */
    "CREATE TABLE resmon_schema (version INTEGER NOT NULL);"
    "INSERT INTO resmon_schema (version) VALUES (0);"
    "CREATE TABLE resmon_runs ("
    " id @ID, run_key TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL, repo TEXT NOT NULL,"
    " job TEXT NOT NULL, commit_sha TEXT NOT NULL, branch TEXT NOT NULL, os TEXT NOT NULL,"
    " python TEXT NOT NULL, resmon TEXT NOT NULL, host TEXT NOT NULL, verdict TEXT NOT NULL,"
    " confidence DOUBLE PRECISION, started BIGINT, ended BIGINT, added BIGINT NOT NULL,"
    " mem_total BIGINT, cg_lim BIGINT, min_avail BIGINT, cg_max BIGINT, max_peak BIGINT,"
    " tests INTEGER NOT NULL);"
    "CREATE INDEX resmon_runs_by_job ON resmon_runs (job, os, python, started);"
    "CREATE TABLE resmon_test_ids (id @ID, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE resmon_tests ("
    " run BIGINT NOT NULL REFERENCES resmon_runs (id), inst INTEGER NOT NULL,"
    " test BIGINT NOT NULL REFERENCES resmon_test_ids (id), attempt INTEGER NOT NULL,"
    " worker TEXT, pid BIGINT, outcome TEXT, peak BIGINT, used BIGINT, growth BIGINT,"
    " duration BIGINT, PRIMARY KEY (run, inst));"
    "CREATE INDEX resmon_tests_by_test ON resmon_tests (test, run);",
    /* 2: own growth per instance (what it still held at its end or at the
       kill), and fixtures per run */
    "ALTER TABLE resmon_tests ADD COLUMN own_growth BIGINT;"
    "CREATE TABLE resmon_fixtures ("
    " run BIGINT NOT NULL REFERENCES resmon_runs (id), fixture TEXT NOT NULL,"
    " name TEXT NOT NULL, scope TEXT NOT NULL, instances BIGINT, held BIGINT, retained BIGINT,"
    " PRIMARY KEY (run, fixture));",
};

struct hdb {
    int pg;
    char err[512];
#ifdef RM_HAVE_SQLITE3
    sqlite3 *lite;
    sqlite3_stmt *bulk;
#endif
#ifdef RM_HAVE_LIBPQ
    PGconn *conn;
    char *copy;
    size_t copy_len;
#endif
    int bulk_cols;
};

int hdb_is_pg_spec(const char *spec)
{
    return strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0;
}

const char *hdb_missing_backend(const char *spec)
{
    if (hdb_is_pg_spec(spec)) {
#ifdef RM_HAVE_LIBPQ
        return NULL;
#else
        return "libpq (Debian/Ubuntu: apt-get install libpq-dev; Fedora: dnf install "
               "libpq-devel; macOS: brew install libpq), then rebuild resmon";
#endif
    }
#ifdef RM_HAVE_SQLITE3
    return NULL;
#else
    return "libsqlite3 (Debian/Ubuntu: apt-get install libsqlite3-dev; Fedora: dnf install "
           "sqlite-devel; macOS: brew install sqlite), then rebuild resmon";
#endif
}

int hdb_is_pg(const hdb *db)
{
    return db->pg;
}

const char *hdb_errmsg(const hdb *db)
{
    return db->err;
}

static void set_err(hdb *db, const char *what, const char *msg)
{
    size_t n;
    int k = snprintf(db->err, sizeof(db->err), "%s: %s", what, msg ? msg : "unknown error");
    if (k < 0)
        db->err[0] = '\0';
    /* one line: libpq's messages end with a newline */
    n = strlen(db->err);
    while (n && (db->err[n - 1] == '\n' || db->err[n - 1] == ' '))
        db->err[--n] = '\0';
}

/* ---- results ---- */

#if defined(RM_HAVE_SQLITE3) || defined(RM_HAVE_LIBPQ)
static int res_push(hres *r, const char *v, size_t n)
{
    if (r->n_off == r->cap_off) {
        size_t cap = r->cap_off ? r->cap_off * 2 : 256;
        size_t *no = realloc(r->off, cap * sizeof(*no));
        if (!no)
            return -1;
        r->off = no;
        r->cap_off = cap;
    }
    if (!v) {
        r->off[r->n_off++] = (size_t)-1;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        char *nb;
        while (cap < r->len + n + 1)
            cap *= 2;
        nb = realloc(r->buf, cap);
        if (!nb)
            return -1;
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, v, n);
    r->buf[r->len + n] = '\0';
    r->off[r->n_off++] = r->len;
    r->len += n + 1;
    return 0;
}

#endif

const char *hres_val(const hres *r, int row, int col)
{
    size_t o;
    if (row < 0 || row >= r->rows || col < 0 || col >= r->cols)
        return NULL;
    o = r->off[(size_t)row * (size_t)r->cols + (size_t)col];
    return o == (size_t)-1 ? NULL : r->buf + o;
}

void hres_free(hres *r)
{
    free(r->off);
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

/* ---- SQLite ---- */

#ifdef RM_HAVE_SQLITE3
static int lite_exec(hdb *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->lite, sql, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(db, "sqlite", msg ? msg : sqlite3_errmsg(db->lite));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int lite_query(hdb *db, const char *sql, int np, const char *const *p, hres *out)
{
    sqlite3_stmt *st = NULL;
    int i, rc, rows = 0, cols;
    if (sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL) != SQLITE_OK)
        goto error;
    for (i = 0; i < np; i++) {
        rc = p[i] ? sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_STATIC)
                  : sqlite3_bind_null(st, i + 1);
        if (rc != SQLITE_OK)
            goto error;
    }
    cols = sqlite3_column_count(st);
    if (out) {
        memset(out, 0, sizeof(*out));
        out->cols = cols;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!out)
            continue;
        for (i = 0; i < cols; i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            int n = sqlite3_column_bytes(st, i);
            if (res_push(out, v ? (const char *)v : NULL, (size_t)n) != 0) {
                set_err(db, "sqlite", "out of memory");
                sqlite3_finalize(st);
                return -1;
            }
        }
        rows++;
    }
    if (rc != SQLITE_DONE)
        goto error;
    if (out)
        out->rows = rows;
    sqlite3_finalize(st);
    return 0;
error:
    set_err(db, "sqlite", sqlite3_errmsg(db->lite));
    sqlite3_finalize(st);
    return -1;
}

/* WAL: readers never block the writer; NORMAL sync is durable except for
 * the last commits at a power loss, which a CI cache does not survive anyway.
 * Writers that create the same new database at once race for the switch to
 * WAL, and SQLite answers the loser "database is locked" at once, without
 * its busy handler: that case waits and tries again, up to HDB_BUSY_MS. */
static int lite_pragmas(hdb *db)
{
    const char *sql = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
    int waited = 0;
    for (;;) {
        char *msg = NULL;
        int rc = sqlite3_exec(db->lite, sql, NULL, NULL, &msg) & 0xff;
        if (rc == SQLITE_OK)
            return 0;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= HDB_BUSY_MS) {
            set_err(db, "sqlite", msg ? msg : sqlite3_errmsg(db->lite));
            sqlite3_free(msg);
            return -1;
        }
        sqlite3_free(msg);
        waited += sqlite3_sleep(20);
    }
}

static int lite_open(hdb *db, const char *path, int create, int *missing)
{
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db->lite, flags, NULL) != SQLITE_OK) {
        if (!create && missing)
            *missing = 1;
        set_err(db, path, db->lite ? sqlite3_errmsg(db->lite) : "cannot open");
        return -1;
    }
    sqlite3_busy_timeout(db->lite, HDB_BUSY_MS);
    return lite_pragmas(db);
}
#endif

/* ---- PostgreSQL ---- */

#ifdef RM_HAVE_LIBPQ
static void pg_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("relation exists, skipping") are not for the user */
}

static int pg_ok(hdb *db, PGresult *res, const char *what)
{
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN)
        return 0;
    set_err(db, what, PQresultErrorMessage(res));
    return -1;
}

static int pg_exec(hdb *db, const char *sql)
{
    PGresult *res = PQexec(db->conn, sql);
    int rc = pg_ok(db, res, "postgresql");
    PQclear(res);
    return rc;
}

/* "?N" placeholders become "$N" (the SQL here has no '?' elsewhere). */
static char *pg_sql(const char *sql)
{
    size_t n = strlen(sql);
    char *s = malloc(n + 1);
    size_t i;
    if (!s)
        return NULL;
    for (i = 0; i <= n; i++)
        s[i] = sql[i] == '?' ? '$' : sql[i];
    return s;
}

static int pg_query(hdb *db, const char *sql, int np, const char *const *p, hres *out)
{
    char *s = pg_sql(sql);
    PGresult *res;
    int r, c, rows, cols;
    if (!s) {
        set_err(db, "postgresql", "out of memory");
        return -1;
    }
    res = PQexecParams(db->conn, s, np, NULL, p, NULL, NULL, 0);
    free(s);
    if (pg_ok(db, res, "postgresql") != 0) {
        PQclear(res);
        return -1;
    }
    if (out) {
        memset(out, 0, sizeof(*out));
        rows = PQntuples(res);
        cols = PQnfields(res);
        out->cols = cols;
        for (r = 0; r < rows; r++)
            for (c = 0; c < cols; c++) {
                int null = PQgetisnull(res, r, c);
                if (res_push(out, null ? NULL : PQgetvalue(res, r, c),
                             null ? 0 : (size_t)PQgetlength(res, r, c)) != 0) {
                    set_err(db, "postgresql", "out of memory");
                    PQclear(res);
                    return -1;
                }
            }
        out->rows = rows;
    }
    PQclear(res);
    return 0;
}

static int pg_open(hdb *db, const char *spec)
{
    db->conn = PQconnectdb(spec);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        set_err(db, "postgresql", db->conn ? PQerrorMessage(db->conn) : "out of memory");
        return -1;
    }
    PQsetNoticeProcessor(db->conn, pg_quiet, NULL);
    return pg_exec(db, "SET client_min_messages = warning");
}

/* Appends one COPY text value: backslash, tab, newline and CR escaped; NULL as \N. */
static int copy_put(hdb *db, const char *v, int sep)
{
    size_t need = (v ? strlen(v) * 2 : 2) + 2, i;
    if (db->copy_len + need > HDB_COPY_BUF) {
        if (db->copy_len && PQputCopyData(db->conn, db->copy, (int)db->copy_len) != 1)
            goto error;
        db->copy_len = 0;
        if (need > HDB_COPY_BUF) {
            set_err(db, "postgresql", "a value is too long for COPY");
            return -1;
        }
    }
    if (sep)
        db->copy[db->copy_len++] = '\t';
    if (!v) {
        db->copy[db->copy_len++] = '\\';
        db->copy[db->copy_len++] = 'N';
        return 0;
    }
    for (i = 0; v[i]; i++) {
        char c = v[i];
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            db->copy[db->copy_len++] = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        db->copy[db->copy_len++] = c;
    }
    return 0;
error:
    set_err(db, "postgresql COPY", PQerrorMessage(db->conn));
    return -1;
}
#endif

/* ---- the interface ---- */

int hdb_exec(hdb *db, const char *sql)
{
#ifdef RM_HAVE_LIBPQ
    if (db->pg)
        return pg_exec(db, sql);
#endif
#ifdef RM_HAVE_SQLITE3
    if (!db->pg)
        return lite_exec(db, sql);
#endif
    (void)sql;
    set_err(db, "history", "no database backend built in");
    return -1;
}

int hdb_query(hdb *db, const char *sql, int np, const char *const *params, hres *out)
{
#ifdef RM_HAVE_LIBPQ
    if (db->pg)
        return pg_query(db, sql, np, params, out);
#endif
#ifdef RM_HAVE_SQLITE3
    if (!db->pg)
        return lite_query(db, sql, np, params, out);
#endif
    (void)sql;
    (void)np;
    (void)params;
    (void)out;
    set_err(db, "history", "no database backend built in");
    return -1;
}

/* PostgreSQL: the session's advisory lock, taken before the transaction
 * begins, so that the transaction sees (and its catalog caches hold) what the
 * writer before it committed. A session that dies releases it. */
static int pg_lock(hdb *db, int take)
{
    char sql[96];
    int k = snprintf(sql, sizeof(sql), "SELECT pg_advisory_%slock(%lld)", take ? "" : "un",
                     (long long)HDB_PG_LOCK);
    if (k < 0 || (size_t)k >= sizeof(sql))
        return -1;
    return hdb_exec(db, sql);
}

int hdb_begin_write(hdb *db)
{
    if (db->pg) {
        if (pg_lock(db, 1) != 0)
            return -1;
        if (hdb_exec(db, "BEGIN") != 0) {
            (void)pg_lock(db, 0);
            return -1;
        }
        return 0;
    }
    return hdb_exec(db, "BEGIN IMMEDIATE");
}

int hdb_commit(hdb *db)
{
    int rc = hdb_exec(db, "COMMIT");
    if (db->pg && rc == 0)
        rc = pg_lock(db, 0);
    return rc;
}

void hdb_rollback(hdb *db)
{
    char keep[sizeof(db->err)];
    memcpy(keep, db->err, sizeof(keep)); /* the error that caused it matters */
    (void)hdb_exec(db, "ROLLBACK");
    if (db->pg)
        (void)pg_lock(db, 0);
    memcpy(db->err, keep, sizeof(keep));
}

int hdb_bulk_begin(hdb *db, const char *table, const char *const *cols, int ncols)
{
    char sql[1024];
    size_t n = 0;
    int i, k;
    if (ncols < 1 || ncols > HDB_MAX_COLS)
        return -1;
    db->bulk_cols = ncols;
    k = snprintf(sql, sizeof(sql), db->pg ? "COPY %s (" : "INSERT INTO %s (", table);
    if (k < 0 || (size_t)k >= sizeof(sql))
        return -1;
    n = (size_t)k;
    for (i = 0; i < ncols; i++) {
        k = snprintf(sql + n, sizeof(sql) - n, "%s%s", i ? ", " : "", cols[i]);
        if (k < 0 || (size_t)k >= sizeof(sql) - n)
            return -1;
        n += (size_t)k;
    }
    if (db->pg) {
#ifdef RM_HAVE_LIBPQ
        PGresult *res;
        k = snprintf(sql + n, sizeof(sql) - n, ") FROM STDIN");
        if (k < 0 || (size_t)k >= sizeof(sql) - n)
            return -1;
        if (!db->copy && !(db->copy = malloc(HDB_COPY_BUF))) {
            set_err(db, "postgresql", "out of memory");
            return -1;
        }
        db->copy_len = 0;
        res = PQexec(db->conn, sql);
        k = pg_ok(db, res, "postgresql COPY");
        PQclear(res);
        return k;
#endif
        return -1;
    }
#ifdef RM_HAVE_SQLITE3
    k = snprintf(sql + n, sizeof(sql) - n, ") VALUES (");
    if (k < 0 || (size_t)k >= sizeof(sql) - n)
        return -1;
    n += (size_t)k;
    for (i = 0; i < ncols; i++) {
        k = snprintf(sql + n, sizeof(sql) - n, "%s?%d", i ? ", " : "", i + 1);
        if (k < 0 || (size_t)k >= sizeof(sql) - n)
            return -1;
        n += (size_t)k;
    }
    k = snprintf(sql + n, sizeof(sql) - n, ")");
    if (k < 0 || (size_t)k >= sizeof(sql) - n)
        return -1;
    if (sqlite3_prepare_v2(db->lite, sql, -1, &db->bulk, NULL) != SQLITE_OK) {
        set_err(db, "sqlite", sqlite3_errmsg(db->lite));
        return -1;
    }
    return 0;
#endif
    return -1;
}

int hdb_bulk_row(hdb *db, const char *const *vals)
{
    int i;
    if (db->pg) {
#ifdef RM_HAVE_LIBPQ
        for (i = 0; i < db->bulk_cols; i++)
            if (copy_put(db, vals[i], i > 0) != 0)
                return -1;
        db->copy[db->copy_len++] = '\n';
        return 0;
#endif
        return -1;
    }
#ifdef RM_HAVE_SQLITE3
    for (i = 0; i < db->bulk_cols; i++) {
        int rc = vals[i] ? sqlite3_bind_text(db->bulk, i + 1, vals[i], -1, SQLITE_STATIC)
                         : sqlite3_bind_null(db->bulk, i + 1);
        if (rc != SQLITE_OK)
            goto error;
    }
    if (sqlite3_step(db->bulk) != SQLITE_DONE)
        goto error;
    sqlite3_reset(db->bulk);
    return 0;
error:
    set_err(db, "sqlite", sqlite3_errmsg(db->lite));
    sqlite3_reset(db->bulk);
    return -1;
#endif
    (void)vals;
    (void)i;
    return -1;
}

int hdb_bulk_end(hdb *db)
{
    if (db->pg) {
#ifdef RM_HAVE_LIBPQ
        PGresult *res;
        int rc = 0;
        if (db->copy_len && PQputCopyData(db->conn, db->copy, (int)db->copy_len) != 1)
            rc = -1;
        db->copy_len = 0;
        if (PQputCopyEnd(db->conn, rc ? "resmon: write failed" : NULL) != 1)
            rc = -1;
        while ((res = PQgetResult(db->conn)) != NULL) {
            if (pg_ok(db, res, "postgresql COPY") != 0)
                rc = -1;
            PQclear(res);
        }
        if (rc && !db->err[0])
            set_err(db, "postgresql COPY", PQerrorMessage(db->conn));
        return rc;
#endif
        return -1;
    }
#ifdef RM_HAVE_SQLITE3
    sqlite3_finalize(db->bulk);
    db->bulk = NULL;
    return 0;
#endif
    return -1;
}

/* ---- schema ---- */

/* The schema version: 0 when the database holds no resmon tables, -1 on error. */
static int schema_version(hdb *db)
{
    hres r;
    int v = 0;
    const char *probe =
        db->pg
            ? "SELECT to_regclass('resmon_schema') IS NOT NULL"
            : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'resmon_schema'";
    if (hdb_query(db, probe, 0, NULL, &r) != 0)
        return -1;
    if (r.rows == 1 && hres_val(&r, 0, 0) &&
        (strcmp(hres_val(&r, 0, 0), "1") == 0 || strcmp(hres_val(&r, 0, 0), "t") == 0)) {
        hres_free(&r);
        if (hdb_query(db, "SELECT max(version) FROM resmon_schema", 0, NULL, &r) != 0)
            return -1;
        v = r.rows == 1 && hres_val(&r, 0, 0) ? atoi(hres_val(&r, 0, 0)) : 0;
    }
    hres_free(&r);
    return v;
}

/* Runs schema step `step` (1-based) with the backend's key type. */
static int run_step(hdb *db, int step)
{
    const char *src = schema_steps[step - 1],
               *id = db->pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY";
    size_t n = strlen(src), o = 0, idl = strlen(id);
    char *sql = malloc(n * 2 + 1), ver[64];
    int rc, k;
    if (!sql)
        return -1;
    while (*src) {
        if (strncmp(src, "@ID", 3) == 0) {
            memcpy(sql + o, id, idl);
            o += idl;
            src += 3;
        } else {
            sql[o++] = *src++;
        }
    }
    sql[o] = '\0';
    rc = hdb_exec(db, sql);
    free(sql);
    k = snprintf(ver, sizeof(ver), "UPDATE resmon_schema SET version = %d", step);
    if (rc == 0 && k > 0 && (size_t)k < sizeof(ver))
        rc = hdb_exec(db, ver);
    return rc;
}

static int migrate(hdb *db)
{
    int v = schema_version(db), s;
    if (v < 0)
        return -1;
    if (v == HDB_SCHEMA_VERSION)
        return 0;
    if (v > HDB_SCHEMA_VERSION) {
        char msg[160];
        int k = snprintf(msg, sizeof(msg),
                         "schema version %d is newer than this resmon-report's (%d): upgrade "
                         "resmon",
                         v, HDB_SCHEMA_VERSION);
        set_err(db, "history", k > 0 ? msg : "newer schema");
        return -1;
    }
    if (hdb_begin_write(db) != 0)
        return -1;
    v = schema_version(db); /* another writer may have migrated meanwhile */
    for (s = v < 0 ? HDB_SCHEMA_VERSION + 1 : v + 1; s <= HDB_SCHEMA_VERSION; s++)
        if (run_step(db, s) != 0)
            break;
    if (v < 0 || s <= HDB_SCHEMA_VERSION || hdb_commit(db) != 0) {
        hdb_rollback(db);
        return -1;
    }
    return 0;
}

hdb *hdb_open(const char *spec, int create, int *missing, char *err, size_t errn)
{
    hdb *db = calloc(1, sizeof(*db));
    int rc = -1, k;
    if (missing)
        *missing = 0;
    if (!db) {
        k = snprintf(err, errn, "out of memory");
        (void)k;
        return NULL;
    }
    db->pg = hdb_is_pg_spec(spec);
    if (hdb_missing_backend(spec)) {
        set_err(db, "history", "backend not built in");
    } else if (db->pg) {
#ifdef RM_HAVE_LIBPQ
        rc = pg_open(db, spec);
#endif
    } else {
#ifdef RM_HAVE_SQLITE3
        rc = lite_open(db, spec, create, missing);
#endif
    }
    (void)create;
    if (rc == 0)
        rc = migrate(db);
    if (rc != 0) {
        k = snprintf(err, errn, "%s", db->err);
        (void)k;
        hdb_close(db);
        return NULL;
    }
    return db;
}

void hdb_close(hdb *db)
{
    if (!db)
        return;
#ifdef RM_HAVE_SQLITE3
    if (db->bulk)
        sqlite3_finalize(db->bulk);
    if (db->lite)
        sqlite3_close(db->lite);
#endif
#ifdef RM_HAVE_LIBPQ
    if (db->conn)
        PQfinish(db->conn);
    free(db->copy);
#endif
    free(db);
}
