/* SPDX-License-Identifier: MIT */
/* history.h: resmon-report history's storage, one small interface over SQLite and PostgreSQL
 * (docs/history.md has the schema). */
#ifndef RM_HISTORY_H
#define RM_HISTORY_H

#include <stddef.h>

/* The schema this build writes; older databases are migrated forward on open,
 * newer ones are refused (a newer resmon wrote them). */
#define HDB_SCHEMA_VERSION 2

/* Milliseconds a SQLite writer waits for another one's lock before giving up. */
#define HDB_BUSY_MS 60000

/* A query's result: every value as text (NULL for SQL NULL), copied out of the
 * backend, so it outlives the statement. Owned by the caller: hres_free(). */
typedef struct hres {
    int rows, cols;
    size_t *off; /* rows*cols offsets into buf; (size_t)-1 is NULL */
    char *buf;
    size_t len, cap, n_off, cap_off;
} hres;

typedef struct hdb hdb;

/* Whether spec names PostgreSQL ("postgresql://..." or "postgres://..."). */
int hdb_is_pg_spec(const char *spec);

/* NULL when the backend for spec is built in, else the package to install. */
const char *hdb_missing_backend(const char *spec);

/* Opens a database and migrates its schema forward. create: a missing SQLite
 * file is created (else *missing is set and NULL returned). Returns NULL with
 * a message in err on failure. */
hdb *hdb_open(const char *spec, int create, int *missing, char *err, size_t errn);
void hdb_close(hdb *db);
int hdb_is_pg(const hdb *db);
/* The backend's last error message. */
const char *hdb_errmsg(const hdb *db);

/* Runs SQL without parameters or result (several statements allowed). 0 or -1. */
int hdb_exec(hdb *db, const char *sql);
/* Runs one statement with text parameters ?1..?n (NULL is SQL NULL). out may
 * be NULL. Returns 0 or -1. */
int hdb_query(hdb *db, const char *sql, int np, const char *const *params, hres *out);
/* A write transaction: writers take turns (SQLite BEGIN IMMEDIATE waits up to
 * HDB_BUSY_MS; PostgreSQL takes a session advisory lock before BEGIN). */
int hdb_begin_write(hdb *db);
int hdb_commit(hdb *db);
void hdb_rollback(hdb *db);

/* Bulk insert: rows of text values (NULL is SQL NULL) into table(cols):
 * prepared inserts on SQLite, COPY on PostgreSQL. */
int hdb_bulk_begin(hdb *db, const char *table, const char *const *cols, int ncols);
int hdb_bulk_row(hdb *db, const char *const *vals);
int hdb_bulk_end(hdb *db);

const char *hres_val(const hres *r, int row, int col);
void hres_free(hres *r);

#endif
