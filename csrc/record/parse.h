/* SPDX-License-Identifier: MIT */
/* parse.h: the record parser and a bounded-memory line reader (docs/format.md). */
#ifndef RM_PARSE_H
#define RM_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Most fields kept from one line. A record of RM_LINE_MAX (4096) bytes holds
 * at most ~1360 fields of the form " k=v", but the writer emits fewer than
 * 60; 128 leaves room for later versions and for legacy mapping. Fields past
 * the limit are dropped and counted. */
#ifndef RM_PARSE_MAX_FIELDS
#define RM_PARSE_MAX_FIELDS 128
#endif

/* Bytes kept for the unescaped keys and values of one line (each with a
 * NUL terminator). A record written by resmon is at most 4096 escaped bytes
 * and unescaping never grows a value, so a real record always fits; a longer
 * (hostile or legacy) line loses the fields that do not fit, counted. */
#ifndef RM_PARSE_VALUES_MAX
#define RM_PARSE_VALUES_MAX 8192
#endif

/* Longest key, record kind and legacy prefix. Longer ones are malformed. */
#ifndef RM_PARSE_KEY_MAX
#define RM_PARSE_KEY_MAX 64
#endif

/* Slots of a record's key index: a power of two, at least twice
 * RM_PARSE_MAX_FIELDS, so a probe ends at an empty slot within a few steps. */
#define RM_REC_SLOTS 256

/* What rm_parse_line() found. */
enum {
    RM_PARSE_NONE = 0,   /* no record on this line (rec->gh_ts may still be set) */
    RM_PARSE_RECORD = 1, /* a "[resmon/N] kind ..." record */
    RM_PARSE_LEGACY = 2  /* a "[<prefix>_resource_debug] label: k=v" line */
};

/* Bits of rm_rec.flags. */
enum {
    RM_REC_INCOMPLETE = 1u << 0,      /* no final " ;": the line was cut */
    RM_REC_UNKNOWN_VERSION = 1u << 1, /* version other than 1: fields read anyway */
    RM_REC_MALFORMED = 1u << 2,       /* at least one field skipped (n_malformed) */
    RM_REC_OVERFLOW = 1u << 3,        /* fields dropped for lack of room (n_dropped) */
    RM_REC_TRUNC = 1u << 4            /* the writer cut a value: trunc=1 */
};

/* One key=value. key and val are NUL-terminated and point into the owning
 * rm_rec's buf; val may hold NUL bytes itself (an escaped \x00), so use
 * val_len. */
typedef struct rm_field {
    const char *key;
    const char *val;
    size_t val_len;
    uint32_t key_tag; /* length and three bytes of key: rm_rec_get compares this first */
} rm_field;

/* The parse of one line. Self-contained (no pointer into the input), but the
 * fields point into buf: do not copy an rm_rec with memcpy or assignment. */
typedef struct rm_rec {
    int type;              /* RM_PARSE_* */
    unsigned flags;        /* RM_REC_* */
    unsigned long version; /* N of [resmon/N]; 0 for legacy */
    int has_gh_ts;         /* the line began with GitHub's timestamp */
    int64_t gh_ts_usec;    /* that timestamp, microseconds since the epoch (UTC) */
    size_t body_off;       /* offset of the text after the timestamp prefix */
    size_t job_len;        /* gh run view --log: the JOB of "JOB<TAB>STEP<TAB>" at
                              offset 0 (0: no such prefix) */
    int cli_ok;            /* set by the caller, kept by the parse: read that prefix (a file in
                              that form: its first line had it); 0, a tab is text */
    size_t tag_off;        /* offset of the tag's '[' (body_off + the noise skipped) */
    char kind[RM_PARSE_KEY_MAX];   /* record kind, "legacy" for legacy lines */
    char prefix[RM_PARSE_KEY_MAX]; /* legacy: <prefix> of [<prefix>_resource_debug] */
    const char *label;             /* legacy: text before the first "key=" (in buf) */
    size_t label_len;
    unsigned n_fields;
    uint64_t key_bloom; /* one bit per key_tag of f[]: most absent keys miss at once */
    /* index of f[] by key: field index + 1 at rm_tag_slot(tag) or the next
       free slot (linear probing); 0 is empty. The first field of a key is
       indexed, so a lookup finds what a scan from f[0] would. */
    unsigned char slot[RM_REC_SLOTS];
    unsigned n_malformed; /* fields skipped: bad key, bad escape, bad bare value */
    unsigned n_dropped;   /* fields dropped: no room (RM_PARSE_MAX_FIELDS / VALUES) */
    size_t used;          /* bytes of buf in use */
    rm_field f[RM_PARSE_MAX_FIELDS];
    char buf[RM_PARSE_VALUES_MAX];
} rm_rec;

/* Parses one line (without its '\n'; a final '\r' is ignored) of any bytes.
 * A record tag counts only at the start of the line, after what CI logs
 * put there (docs/format.md, "Where a record starts"): a UTF-8 BOM,
 * GitHub's timestamp (parsed into gh_ts_usec), then in any order ANSI
 * escape sequences, CR, pytest's progress letters (a run of ". F E s x X",
 * optionally followed by its " [ NN%]" counter), xdist's "[gwN] " and
 * GitHub's "##[error]". A tag after anything else (a test id in a pytest
 * -v line, a log message) is text, so printed text cannot forge a record.
 * Never allocates; time is linear in len; a tag inside a quoted value is
 * data. Legacy lines get kind "legacy", nodeid mapped to test and "*_gb"
 * floats (GiB, 2^30 bytes) mapped to exact bytes: rss_gb to rss, used_gbN
 * to diskN_used, free_gbN to diskN_free, pathN to diskN; the originals
 * stay. Returns rec->type. */
int rm_parse_line(const char *line, size_t len, rm_rec *rec);

/* Field lookup: the field with this key, or NULL. rm_rec_get (below) is
 * inline so that a literal key's length, tag and bloom bit are
 * constants at the call: a report asks for dozens of keys per record, most
 * of them absent, and such a lookup then costs one AND. */

/* A key's length and its first, middle and last bytes in one word: two keys
 * with different tags differ, so only a tag match compares strings. */
static inline uint32_t rm_key_tag(const char *k, size_t n)
{
    if (n == 0)
        return 0;
    return (uint32_t)(n & 0xff) | (uint32_t)(unsigned char)k[0] << 8 |
           (uint32_t)(unsigned char)k[n >> 1] << 16 | (uint32_t)(unsigned char)k[n - 1] << 24;
}

/* The key_bloom bit of a tag. */
static inline uint64_t rm_tag_bit(uint32_t tag)
{
    return 1ull << ((tag * 0x9E3779B1u) >> 26);
}

/* Home slot of a key tag in rm_rec.slot (the tag's high hash bits: the
 * bloom bit takes the top six, so this takes the next eight). */
static inline unsigned rm_tag_slot(uint32_t tag)
{
    return ((tag * 0x9E3779B1u) >> 18) & (RM_REC_SLOTS - 1);
}

/* The field whose key is key and whose tag is tag, or NULL. */
const rm_field *rm_rec_find(const rm_rec *rec, const char *key, uint32_t tag);

static inline const rm_field *rm_rec_get(const rm_rec *rec, const char *key)
{
    size_t n = strlen(key);
    uint32_t tag = rm_key_tag(key, n);
    /* the bloom inline too: most lookups miss without a call */
    return (rec->key_bloom & rm_tag_bit(tag)) ? rm_rec_find(rec, key, tag) : NULL;
}

/* Reads an unsigned decimal field (bytes, counts). "none" is not a number.
 * Returns 0 and sets *out, or -1 when absent or not a decimal integer. */
int rm_rec_u64(const rm_rec *rec, const char *key, uint64_t *out);

/* Reads a signed decimal field ("-123"). Returns 0 or -1. */
int rm_rec_i64(const rm_rec *rec, const char *key, int64_t *out);

/* Reads "<sec>.<frac>" (mono, dur, wall) as microseconds. Returns 0 or -1. */
int rm_rec_usec(const rm_rec *rec, const char *key, uint64_t *out);

/* A set of keys to keep, prepared once: their tags and one bloom word. */
#define RM_KEYSET_MAX 64
typedef struct rm_keyset {
    const char *const *keys;
    size_t n;
    uint32_t tags[RM_KEYSET_MAX];
    uint64_t bloom;
    unsigned char slot[RM_REC_SLOTS]; /* keys[] by tag, as rm_rec.slot */
} rm_keyset;

/* Prepares ks for keys[0..n) (at most RM_KEYSET_MAX; the rest are ignored). */
void rm_keyset_init(rm_keyset *ks, const char *const *keys, size_t n);

/* A parsed record kept for later, without parsing it again: its type,
 * flags, version, kind, prefix, label and the fields whose keys are in ks
 * (every field when ks is NULL), in a compact form. Returns the bytes
 * written to out, 0 when they do not fit in cap. */
size_t rm_rec_pack(const rm_rec *rec, const rm_keyset *ks, char *out, size_t cap);

/* The record rm_rec_pack kept in p[0..n): rec as rm_parse_line would have
 * filled it, with those fields only (no GitHub time, no offsets). Returns
 * rec->type, RM_PARSE_NONE when p is not such a packing. */
int rm_rec_unpack(const char *p, size_t n, rm_rec *rec);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (any number of fraction digits;
 * a space may stand for the T) into microseconds since the epoch. Returns
 * the number of bytes consumed, or 0 when s does not start with such a time. */
size_t rm_parse_utc(const char *s, size_t n, int64_t *usec);

/* ---- bounded-memory line reader ---- */

/* Read buffer. Lines up to RM_READER_LINE_MAX are delivered whole. */
#ifndef RM_READER_BUF
#define RM_READER_BUF (256 * 1024)
#endif

/* Longest line delivered; a longer one is cut to this length (flag
 * RM_READ_CUT) and the rest of it skipped. Must be below RM_READER_BUF/2. */
#ifndef RM_READER_LINE_MAX
#define RM_READER_LINE_MAX (64 * 1024)
#endif

enum { RM_READ_CUT = 1u << 0 };

/* A gzip input may inflate to at most RM_READER_GZ_RATIO times the
 * compressed bytes read so far, or gz_floor bytes if that is more, and
 * never more than gz_limit when the caller sets one. Text logs compress
 * 5-30x; deflate can reach ~1000x, so a small crafted file (a "gzip bomb")
 * would otherwise feed the report gigabytes. Past the cap the reader stops:
 * rm_reader_next returns -1, gz_capped is set and err says why. */
#ifndef RM_READER_GZ_RATIO
#define RM_READER_GZ_RATIO 64
#endif
#ifndef RM_READER_GZ_FLOOR
#define RM_READER_GZ_FLOOR (1ull << 30)
#endif

typedef struct rm_reader {
    int fd;
    int own_fd;   /* close fd in rm_reader_close */
    int gz;       /* gzip input being inflated (2: a zip archive's members) */
    int eof;      /* no more bytes from the source */
    int skipping; /* dropping the rest of a cut line */
    void *z;      /* zlib state when gz (allocated once) */
    void *u16;    /* UTF-16LE input (Windows PowerShell 5's "> file"): its decoder */
    uint64_t lineno;
    uint64_t n_cut;      /* lines cut so far */
    int gz_cut;          /* the gzip stream ended mid-member (a truncated .gz) */
    int gz_capped;       /* inflating stopped at the cap (see RM_READER_GZ_RATIO) */
    uint64_t gz_floor;   /* inflated bytes always allowed; set after open to change */
    uint64_t gz_limit;   /* absolute cap on inflated bytes, 0 for none; set after open */
    uint64_t gz_in;      /* compressed bytes inflated so far */
    uint64_t gz_out;     /* bytes inflated so far */
    int zip_members;     /* a zip archive: the .txt members read (docs/report.md) */
    int zip_jobs;        /* jobs: its top level's logs, else the folders of steps' logs */
    unsigned member_seq; /* 1 + the member the lines now come from (a member's lines
                            all come after its start: each ends with a newline) */
    char member[128];    /* its name in the archive, cut */
    uint64_t bytes;      /* bytes of (decompressed) input consumed */
    size_t start, end;
    size_t scanned; /* bytes after start known to hold no '\n' */
    char err[256];  /* why rm_reader_next returned -1 */
    char buf[RM_READER_BUF];
} rm_reader;

/* Whether gzip input can be read (built with zlib: RM_HAVE_ZLIB). */
int rm_reader_has_gzip(void);

/* Opens a path, or standard input for "-". Gzip input (magic 1f 8b) is
 * inflated when zlib is available and refused otherwise, with a message.
 * Returns 0, or -1 with r->err set. */
int rm_reader_open(rm_reader *r, const char *path);

/* Reads from an fd the caller owns. */
int rm_reader_open_fd(rm_reader *r, int fd);

/* Next line, without its '\n'. *line points into r->buf and stays valid
 * until the next call. Any bytes (NUL, invalid UTF-8) are delivered as
 * they are; memory is bounded by RM_READER_BUF and time is linear in the
 * input. Returns 1 for a line (r->lineno is its number), 0 at the end of
 * input, -1 on a read or decompression error or at the gzip cap (r->err;
 * the lines before it were delivered). */
int rm_reader_next(rm_reader *r, const char **line, size_t *len, unsigned *flags);

void rm_reader_close(rm_reader *r);

#endif
