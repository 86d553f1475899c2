/*
 * catalog.c — the series catalog of catalog.h: databases, series keys and
 * their ids, tag postings and field types, kept in memory and logged to
 * <dir>/catalog.log (docs/format-catalog.md).
 *
 * In memory (the "published" state):
 *   - databases by id (an array; a dropped one stays as a tombstone so its
 *     id is never reused) and by name (hash table of the live ones);
 *   - per database: canonical key -> series (hash table: XXH3 of the key,
 *     then a full comparison of the key bytes, so colliding hashes never
 *     merge two series), and measurements by name; per measurement the
 *     sorted ids of its series, its tag keys, per tag key its values with
 *     the sorted ids of their series, and its fields (name -> id, type);
 *   - series id -> series (an array indexed by id: ids are dense).
 * Hash tables are open addressing with linear probing and backward-shift
 * deletion; each slot keeps the full 64-bit hash so most mismatches cost
 * no key comparison.
 *
 * Ids: series ids are global (the LSM key space is shared by databases),
 * field ids are per database, both handed out in sequence from 1. After a
 * replay they continue after the largest id seen.
 *
 * Transactions and reservations. An id handed out by lsm_catalog_txn_series
 * or _field is final before its record is written, so two transactions
 * that meet the same new key at the same time must get the same id. A new
 * key is "pending" from its reservation until its record is durable and
 * published: pending entries live in a shared map (c->pend_series,
 * c->pend_fields) guarded by the commit mutex, and every transaction that
 * uses one holds a reference to it. Lookup order in a transaction:
 *   1. the published map under the read lock (the fast path for known keys);
 *   2. the transaction's own map of the entries it holds (no lock);
 *   3. under the commit mutex: the published map again (a commit may have
 *      published it since step 1 — published state only changes under the
 *      mutex, so it is stable there), then the shared pending map, and only
 *      then a new id.
 * Commit, under the mutex, writes the records of the entries it holds that
 * nobody has published yet, syncs, publishes them under the write lock and
 * takes them out of the pending map; a transaction that shares one of them
 * finds it published and writes nothing for it. A transaction reset or
 * freed without commit drops its references; an entry nobody holds any more
 * is forgotten, and its id is skipped (ids only need to be unique).
 *
 * Durability: appends are write(2) then fdatasync of the whole commit,
 * through LSM_FAULT_CATALOG_WRITE / _SYNC. A failed append is sticky: the
 * file is cut back to its last good size (best effort) and every later
 * change is refused with STRATA_EREADONLY until the catalog is reopened,
 * since nothing is known about what the file holds after a failed sync.
 * Nothing of a failed commit is published.
 *
 * Threads and locks:
 *   - c->rw (rwlock, writer-preferring so readers cannot starve a commit)
 *     guards the published state: dbs, n_dbs, db_names, by_id, n_series and
 *     everything reachable from a c_db. Lookups hold it shared, for a hash
 *     lookup and a copy; publishing holds it exclusive, for in-memory
 *     inserts only, never across I/O.
 *   - c->mu (mutex) serialises every change: it is held by commits, database
 *     create and drop, and reservations. It guards the file (fd, file_bytes,
 *     sticky_rc), the pending maps and n_pending, the id counters
 *     (next_series_id, next_db_id, c_db.next_field_id) and max_series. The
 *     published state is changed only with both mu and rw held, so a holder
 *     of mu may read it without rw. Lock order: mu, then rw.
 *   - pend_* entries: refs and published are guarded by mu; the rest is
 *     immutable after creation.
 *   - A transaction belongs to one thread; its own map and arrays need no lock.
 * Any thread may call any public function; transactions must be freed before
 * lsm_catalog_close.
 */
#include "lsm/catalog.h"
#include "lsm/alloc.h"
#include "lsm/catalog_format.h"
#include "lsm/catalog_int.h"
#include "lsm/coding.h"
#include "lsm/fault.h"
#include "lsm/file_io.h"
#include "lsm/log.h"
#include "lsm/record.h"
#include "lsm/series_key.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- hashing ---- */

static uint64_t xxh3_hash(const void *p, size_t len)
{
	return XXH3_64bits(p, len);
}

/* Set by tests only, while no catalog is open. */
static lsm_catalog_hash_fn hash_fn = xxh3_hash;

void lsm_catalog_test_set_hash(lsm_catalog_hash_fn fn)
{
	hash_fn = fn ? fn : xxh3_hash;
}

static inline uint64_t hash_bytes(const void *p, size_t len)
{
	return hash_fn(p, len);
}

/* The hash of a key scoped by database (pending and transaction maps). */
static inline uint64_t hash_db(uint64_t h, uint32_t db)
{
	return h ^ ((uint64_t)db * 0x9E3779B97F4A7C15ull);
}

/* ---- open addressing hash table of items that begin with a struct hkey ---- */

struct hkey {
	const char *p;
	uint32_t len;
	uint32_t db; /* 0 in tables that are not scoped by database */
};

struct hslot {
	uint64_t hash;
	void *item; /* NULL: empty */
};

struct htab {
	struct hslot *slots;
	size_t cap; /* 0 or a power of two */
	size_t n;
};

static inline bool hkey_eq(const void *item, uint32_t db, const char *p, size_t len)
{
	const struct hkey *k = item;

	return k->db == db && k->len == len && memcmp(k->p, p, len) == 0;
}

static void *ht_find(const struct htab *t, uint64_t h, uint32_t db, const char *p, size_t len)
{
	size_t mask, i;

	if (t->n == 0)
		return NULL;
	mask = t->cap - 1;
	/* The load factor stays under 3/4: an empty slot always ends the probe. */
	for (i = h & mask;; i = (i + 1) & mask) {
		const struct hslot *s = &t->slots[i];

		if (!s->item)
			return NULL;
		if (s->hash == h && hkey_eq(s->item, db, p, len))
			return s->item;
	}
}

static void ht_place(struct hslot *slots, size_t cap, uint64_t h, void *item)
{
	size_t i;

	for (i = h & (cap - 1); slots[i].item; i = (i + 1) & (cap - 1))
		;
	slots[i].hash = h;
	slots[i].item = item;
}

/* Makes room for n items without a later allocation. -ENOMEM. */
static int ht_reserve(struct htab *t, size_t n)
{
	struct hslot *slots;
	size_t cap = t->cap ? t->cap : 8;

	while (n * 4 >= cap * 3)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	slots = strata_calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].item)
			ht_place(slots, cap, t->slots[i].hash, t->slots[i].item);
	strata_free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Inserts an item whose key is not in t. -ENOMEM. */
static int ht_insert(struct htab *t, uint64_t h, void *item)
{
	int rc = ht_reserve(t, t->n + 1);

	if (rc)
		return rc;
	ht_place(t->slots, t->cap, h, item);
	t->n++;
	return 0;
}

/* Removes the item with this key and returns it (NULL if absent). */
static void *ht_remove(struct htab *t, uint64_t h, uint32_t db, const char *p, size_t len)
{
	size_t mask, i, j;
	void *item = NULL;

	if (t->n == 0)
		return NULL;
	mask = t->cap - 1;
	for (i = h & mask; t->slots[i].item; i = (i + 1) & mask) {
		if (t->slots[i].hash == h && hkey_eq(t->slots[i].item, db, p, len)) {
			item = t->slots[i].item;
			break;
		}
	}
	if (!item)
		return NULL;
	t->slots[i].item = NULL;
	t->n--;
	/* Backward shift: pull later entries of the cluster into the hole when
	 * their home slot does not lie cyclically in (i, j]. */
	for (j = (i + 1) & mask; t->slots[j].item; j = (j + 1) & mask) {
		size_t home = t->slots[j].hash & mask;
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);

		if (!stays) {
			t->slots[i] = t->slots[j];
			t->slots[j].item = NULL;
			i = j;
		}
	}
	return item;
}

static void ht_clear(struct htab *t)
{
	if (t->n)
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
	t->n = 0;
}

static void ht_free(struct htab *t, void (*free_item)(void *))
{
	if (free_item)
		for (size_t i = 0; i < t->cap; i++)
			if (t->slots[i].item)
				free_item(t->slots[i].item);
	strata_free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Allocates a zeroed struct of size bytes whose name (at name_off) holds p. */
static void *named_new(size_t size, size_t name_off, const char *p, size_t len)
{
	char *item = strata_calloc(1, size + len + 1);
	struct hkey *k = (struct hkey *)item;

	if (!item)
		return NULL;
	if (len)
		memcpy(item + name_off, p, len);
	k->p = item + name_off;
	k->len = (uint32_t)len;
	return item;
}

#define NAMED_NEW(type, member, p, len) \
	((type *)named_new(sizeof(type), offsetof(type, member), (p), (len)))

/* ---- published state ---- */

/* Series ids, ascending (ids are mostly published in order: appends). */
struct idvec {
	uint64_t *ids;
	size_t n;
	size_t cap;
};

static int idvec_add(struct idvec *v, uint64_t id)
{
	size_t lo, hi;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4;
		uint64_t *ids = strata_realloc(v->ids, cap * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		v->ids = ids;
		v->cap = cap;
	}
	if (v->n == 0 || v->ids[v->n - 1] < id) {
		v->ids[v->n++] = id;
		return 0;
	}
	/* Concurrent transactions may publish ids out of order. */
	lo = 0;
	hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->n && v->ids[lo] == id)
		return 0;
	memmove(v->ids + lo + 1, v->ids + lo, (v->n - lo) * sizeof(*v->ids));
	v->ids[lo] = id;
	v->n++;
	return 0;
}

/* Removes id from v if it is there. */
static void idvec_del(struct idvec *v, uint64_t id)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->n && v->ids[lo] == id) {
		memmove(v->ids + lo, v->ids + lo + 1, (v->n - lo - 1) * sizeof(*v->ids));
		v->n--;
	}
}

struct c_series {
	struct hkey k; /* the canonical key; db 0 (the table is per database) */
	uint64_t id;
	uint32_t db;
	char key[];
};

struct c_tagval {
	struct hkey k;
	struct idvec ids;
	char name[];
};

struct c_tagkey {
	struct hkey k;
	struct htab values; /* c_tagval */
	char name[];
};

struct c_field {
	struct hkey k;
	uint32_t id;
	enum lsm_field_type type;
	char name[];
};

struct c_meas {
	struct hkey k;
	struct idvec ids;     /* its series */
	struct htab tag_keys; /* c_tagkey */
	struct htab fields;   /* c_field */
	char name[];
};

struct c_db {
	struct hkey k;
	uint32_t id;
	uint32_t parent;    /* a policy's store: its database; 0 for a database */
	bool dropped;
	uint32_t next_field_id; /* guarded by c->mu */
	uint64_t n_series;
	uint64_t n_pending; /* series reserved, not yet published (c->mu) */
	struct htab series; /* c_series by key */
	struct htab meas;   /* c_meas by name */
	lsm_catalog_rp *rps; /* retention policies in creation order (rps_explicit); store 0: id */
	uint32_t n_rps, cap_rps;
	bool rps_explicit;  /* false: only the implicit autogen */
	bool own_retired;   /* a policy kept its points in this database's own id and was dropped */
	/*
	 * Every shard duration a policy of this database recorded, with the
	 * store it was for (in the order first seen): the window lengths that
	 * may hold each store's points (lsm_catalog_window_horizon). The log is
	 * never rewritten, so replay sees them all.
	 */
	struct c_length *lengths;
	uint32_t n_lengths, cap_lengths;
	char name[];
};

struct c_length {
	uint32_t store;
	int64_t window_ns;
};

/* ---- pending (reserved, not yet published) entries ---- */

struct pend_series {
	struct hkey k;   /* the key and its database */
	uint64_t hash;   /* hash_bytes of the key (as the published map uses it) */
	uint64_t id;
	uint32_t refs;   /* transactions holding it (mu) */
	bool published;  /* written and published (mu) */
	lsm_series_parts pk;
	/* then: tags, key bytes, unescaped bytes */
};

/* Field keys are composite: measurement length (one byte), measurement, name. */
#define FIELD_KEY_MAX (1 + 2 * LSM_CATALOG_NAME_MAX)

struct pend_field {
	struct hkey k;   /* composite key and database */
	uint32_t id;
	enum lsm_field_type type;
	uint32_t refs;   /* (mu) */
	bool published;  /* (mu) */
	char key[];
};

struct lsm_catalog {
	pthread_rwlock_t rw;
	pthread_mutex_t mu;

	/* Published state: rw (and mu to change). */
	struct c_db **dbs;   /* databases and policy stores by id; [0] unused */
	uint32_t n_dbs;      /* highest id + 1 */
	size_t dbs_cap;
	struct htab db_names; /* live c_db by name */
	struct c_series **by_id;
	uint64_t by_id_cap;
	uint64_t n_series;   /* live series, all databases */

	_Atomic uint64_t generation; /* bumped by every drop (no lock) */

	/* mu */
	struct htab pend_series; /* pend_series by (db, key) */
	struct htab pend_fields; /* pend_field by (db, composite key) */
	uint64_t n_pending;      /* series in pend_series */
	uint64_t next_series_id;
	uint32_t next_db_id;
	uint64_t max_series;     /* 0: unlimited */
	uint64_t max_series_per_db; /* 0: unlimited */
	int fd;
	uint64_t file_bytes;
	int sticky_rc;

	char *path;
	char dir[];
};

struct lsm_catalog_txn {
	lsm_catalog *c;
	struct pend_series **series; /* references held */
	size_t n_series;
	size_t cap_series;
	struct pend_field **fields;
	size_t n_fields;
	size_t cap_fields;
	struct htab own_series; /* the same entries, by (db, key) */
	struct htab own_fields;
	struct c_series **pre;  /* published structs allocated before the write lock */
	size_t cap_pre;
	uint8_t *buf;           /* records of a commit */
	size_t buf_cap;
};

/* ---- freeing ---- */

static void tagval_free(void *p)
{
	struct c_tagval *v = p;

	strata_free(v->ids.ids);
	strata_free(v);
}

static void tagkey_free(void *p)
{
	struct c_tagkey *k = p;

	ht_free(&k->values, tagval_free);
	strata_free(k);
}

static void meas_free(void *p)
{
	struct c_meas *m = p;

	strata_free(m->ids.ids);
	ht_free(&m->tag_keys, tagkey_free);
	ht_free(&m->fields, strata_free);
	strata_free(m);
}

/* Frees what a database holds, keeping the struct (a dropped tombstone). */
static void db_clear(struct c_db *d)
{
	ht_free(&d->series, strata_free);
	ht_free(&d->meas, meas_free);
	d->n_series = 0;
	strata_free(d->rps);
	d->rps = NULL;
	d->n_rps = d->cap_rps = 0;
	strata_free(d->lengths);
	d->lengths = NULL;
	d->n_lengths = d->cap_lengths = 0;
}

/* ---- names and keys ---- */

/* Database names: 1..255 bytes, no control characters, no '/', not "." or "..". */
static int check_db_name(const char *name, size_t len)
{
	if (len == 0)
		return strata_error(STRATA_EINVAL, "empty database name");
	if (len > LSM_CATALOG_NAME_MAX)
		return strata_error(STRATA_EINVAL, "database name of %zu bytes, over the %d byte limit",
				    len, LSM_CATALOG_NAME_MAX);
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return strata_error(STRATA_EINVAL, "database name \"%.*s\" is reserved", (int)len, name);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch < 0x20 || ch == 0x7f || ch == '/')
			return strata_error(STRATA_EINVAL, "database name \"%.*s\" holds a forbidden byte 0x%02x at %zu",
					    (int)len, name, ch, i);
	}
	return 0;
}

static int check_name(const char *what, size_t len)
{
	if (len == 0)
		return strata_error(STRATA_EINVAL, "empty %s", what);
	if (len > LSM_CATALOG_NAME_MAX)
		return strata_error(STRATA_ETOOBIG, "%s of %zu bytes, over the %d byte limit", what, len,
				    LSM_CATALOG_NAME_MAX);
	return 0;
}

static bool type_valid(enum lsm_field_type t)
{
	return t >= LSM_FIELD_FLOAT && t <= LSM_FIELD_BOOL;
}

/* Upper bound of the number of tags of a key: its commas. */
/* ---- publishing (rw held exclusively, or a single thread at open) ---- */

/* A reserved series of database db stopped being pending (c->mu). */
static void pending_done(lsm_catalog *c, uint32_t db)
{
	if (db < c->n_dbs && c->dbs[db] && c->dbs[db]->n_pending > 0)
		c->dbs[db]->n_pending--;
}

static struct c_db *db_live(lsm_catalog *c, uint32_t id)
{
	if (id == 0 || id >= c->n_dbs || !c->dbs[id] || c->dbs[id]->dropped)
		return NULL;
	return c->dbs[id];
}

/* A live database by id (its own store) (rw or mu held); NULL for a store id. */
static struct c_db *db_top(lsm_catalog *c, uint32_t id)
{
	struct c_db *d = db_live(c, id);

	return d && !d->parent ? d : NULL;
}

static void *get_or_add(struct htab *t, const char *p, size_t len, size_t size, size_t name_off, int *rc)
{
	uint64_t h = hash_bytes(p, len);
	void *item = ht_find(t, h, 0, p, len);

	if (item)
		return item;
	*rc = ht_reserve(t, t->n + 1);
	if (*rc)
		return NULL;
	item = named_new(size, name_off, p, len);
	if (!item) {
		*rc = -ENOMEM;
		return NULL;
	}
	ht_place(t->slots, t->cap, h, item);
	t->n++;
	return item;
}

#define GET_OR_ADD(tab, type, member, p, len, rc) \
	((type *)get_or_add((tab), (p), (len), sizeof(type), offsetof(type, member), (rc)))

/* Makes room for id in c->dbs. */
static int dbs_reserve(lsm_catalog *c, uint32_t id)
{
	if (id >= c->dbs_cap) {
		size_t cap = c->dbs_cap ? c->dbs_cap : 8;
		struct c_db **dbs;

		while (cap <= id)
			cap *= 2;
		dbs = strata_realloc(c->dbs, cap * sizeof(*dbs));
		if (!dbs)
			return -ENOMEM;
		memset(dbs + c->dbs_cap, 0, (cap - c->dbs_cap) * sizeof(*dbs));
		c->dbs = dbs;
		c->dbs_cap = cap;
	}
	return 0;
}

static int pub_db(lsm_catalog *c, struct c_db *d)
{
	int rc = dbs_reserve(c, d->id);

	if (rc == 0 && !d->parent)
		rc = ht_insert(&c->db_names, hash_bytes(d->k.p, d->k.len), d);
	if (rc)
		return rc;
	c->dbs[d->id] = d;
	if (d->id >= c->n_dbs)
		c->n_dbs = d->id + 1;
	return 0;
}

/* Forgets every series and measurement of store d (its policies stay). */
static void store_forget(lsm_catalog *c, struct c_db *d)
{
	for (size_t i = 0; i < d->series.cap; i++) {
		struct c_series *s = d->series.slots[i].item;

		if (s)
			c->by_id[s->id] = NULL;
	}
	c->n_series -= d->n_series;
	ht_free(&d->series, strata_free);
	ht_free(&d->meas, meas_free);
	d->n_series = 0;
}

/* Drops store or database d, leaving a tombstone that keeps its id used. */
static void store_drop(lsm_catalog *c, struct c_db *d)
{
	store_forget(c, d);
	db_clear(d);
	d->dropped = true;
}

static void pub_db_drop(lsm_catalog *c, struct c_db *d)
{
	/* The stores of its later policies go with it. */
	for (uint32_t i = 1; i < c->n_dbs; i++)
		if (c->dbs[i] && !c->dbs[i]->dropped && c->dbs[i]->parent == d->id)
			store_drop(c, c->dbs[i]);
	ht_remove(&c->db_names, hash_bytes(d->k.p, d->k.len), 0, d->k.p, d->k.len);
	store_drop(c, d);
}

/*
 * Publishes series s (key not yet in d) with its parsed key. Once the key
 * is in d->series, d owns s, even if a posting cannot be added (-ENOMEM).
 */
static int pub_series(lsm_catalog *c, struct c_db *d, struct c_series *s, uint64_t hash,
		      const lsm_series_parts *pk, bool *owned)
{
	struct c_meas *m;
	int rc = 0;

	*owned = false;
	if (s->id >= c->by_id_cap) {
		uint64_t cap = c->by_id_cap ? c->by_id_cap : 1024;
		struct c_series **by_id;

		/* Ids are bounded (SERIES_ID_GAP_MAX at replay), so this cannot overflow. */
		while (cap <= s->id)
			cap *= 2;
		if (cap > SIZE_MAX / sizeof(*by_id))
			return -ENOMEM;
		by_id = strata_realloc(c->by_id, cap * sizeof(*by_id));
		if (!by_id)
			return -ENOMEM;
		memset(by_id + c->by_id_cap, 0, (cap - c->by_id_cap) * sizeof(*by_id));
		c->by_id = by_id;
		c->by_id_cap = cap;
	}
	rc = ht_insert(&d->series, hash, s);
	if (rc)
		return rc;
	*owned = true;
	c->by_id[s->id] = s;
	c->n_series++;
	d->n_series++;
	m = GET_OR_ADD(&d->meas, struct c_meas, name, pk->m, pk->m_len, &rc);
	if (!m)
		return rc;
	rc = idvec_add(&m->ids, s->id);
	for (uint32_t i = 0; rc == 0 && i < pk->n_tags; i++) {
		const lsm_series_tag *t = &pk->tags[i];
		struct c_tagkey *tk = GET_OR_ADD(&m->tag_keys, struct c_tagkey, name, t->k, t->k_len, &rc);
		struct c_tagval *tv;

		if (!tk)
			break;
		tv = GET_OR_ADD(&tk->values, struct c_tagval, name, t->v, t->v_len, &rc);
		if (!tv)
			break;
		rc = idvec_add(&tv->ids, s->id);
	}
	return rc;
}

static int pub_field(struct c_db *d, const char *m, size_t m_len, const char *name, size_t name_len,
		     uint32_t id, enum lsm_field_type type)
{
	struct c_meas *meas;
	struct c_field *f;
	int rc = 0;

	meas = GET_OR_ADD(&d->meas, struct c_meas, name, m, m_len, &rc);
	if (!meas)
		return rc;
	f = GET_OR_ADD(&meas->fields, struct c_field, name, name, name_len, &rc);
	if (!f)
		return rc;
	f->id = id;
	f->type = type;
	return 0;
}

/* ---- lookups in the published state (rw or mu held) ---- */

static struct c_series *find_series(struct c_db *d, uint64_t h, const char *key, size_t len)
{
	return ht_find(&d->series, h, 0, key, len);
}

static struct c_meas *find_meas(struct c_db *d, const char *m, size_t m_len)
{
	return ht_find(&d->meas, hash_bytes(m, m_len), 0, m, m_len);
}

static struct c_field *find_field(struct c_db *d, const char *m, size_t m_len, const char *name, size_t name_len)
{
	struct c_meas *meas = find_meas(d, m, m_len);

	if (!meas)
		return NULL;
	return ht_find(&meas->fields, hash_bytes(name, name_len), 0, name, name_len);
}

/* ---- the log file ---- */

static size_t put_bytes(uint8_t *p, const void *s, size_t len)
{
	size_t n = lsm_put_varint64(p, len);

	if (len)
		memcpy(p + n, s, len);
	return n + len;
}

/* Frames the payload already at out + LSM_RECORD_HEADER_LEN; returns the record's bytes. */
static size_t frame(uint8_t *out, enum lsm_catalog_record_type type, size_t payload_len)
{
	lsm_record_header(out, (enum lsm_record_type)type, out + LSM_RECORD_HEADER_LEN, payload_len);
	return LSM_RECORD_HEADER_LEN + payload_len;
}

#define SERIES_REC_MAX(key_len) (LSM_RECORD_HEADER_LEN + LSM_VARINT32_MAX + 2 * LSM_VARINT64_MAX + (key_len))
#define FIELD_REC_MAX(m_len, n_len) \
	(LSM_RECORD_HEADER_LEN + 2 * LSM_VARINT32_MAX + 1 + 2 * LSM_VARINT64_MAX + (m_len) + (n_len))
#define DB_REC_MAX (LSM_RECORD_HEADER_LEN + LSM_VARINT32_MAX + LSM_VARINT64_MAX + LSM_CATALOG_NAME_MAX)

static size_t enc_series(uint8_t *out, uint32_t db, uint64_t id, const char *key, size_t len)
{
	uint8_t *p = out + LSM_RECORD_HEADER_LEN;

	p += lsm_put_varint64(p, db);
	p += lsm_put_varint64(p, id);
	p += put_bytes(p, key, len);
	return frame(out, LSM_CATREC_SERIES, (size_t)(p - out) - LSM_RECORD_HEADER_LEN);
}

static size_t enc_field(uint8_t *out, uint32_t db, const struct pend_field *f)
{
	uint8_t *p = out + LSM_RECORD_HEADER_LEN;
	size_t m_len = (uint8_t)f->key[0];

	p += lsm_put_varint64(p, db);
	p += lsm_put_varint64(p, f->id);
	*p++ = (uint8_t)f->type;
	p += put_bytes(p, f->key + 1, m_len);
	p += put_bytes(p, f->key + 1 + m_len, f->k.len - 1 - m_len);
	return frame(out, LSM_CATREC_FIELD, (size_t)(p - out) - LSM_RECORD_HEADER_LEN);
}



/*
 * Appends records and syncs them (mu held). On failure the catalog turns
 * read-only: the file is cut back to its last good size (best effort).
 */
static int log_append(lsm_catalog *c, const uint8_t *buf, size_t len)
{
	int rc;

	if (c->sticky_rc)
		return strata_error(STRATA_EREADONLY, "%s refuses changes after an earlier failure (%s)",
				    c->path, strata_strerror(c->sticky_rc));
	rc = lsm_write_full(c->fd, buf, len, LSM_FAULT_CATALOG_WRITE);
	if (rc) {
		strata_error(rc, "%s: append of %zu bytes at offset %" PRIu64 ": %s", c->path, len,
			     c->file_bytes, strata_strerror(rc));
	} else {
		rc = lsm_datasync(c->fd, LSM_FAULT_CATALOG_SYNC);
		if (rc)
			strata_error(rc, "%s: fdatasync: %s", c->path, strata_strerror(rc));
	}
	if (rc) {
		if (ftruncate(c->fd, (off_t)c->file_bytes) == 0)
			(void)fdatasync(c->fd);
		c->sticky_rc = rc;
		LOG_ERROR("event=catalog_failed file=%s error=\"%s\" action=refusing further changes",
			  c->path, strata_last_error());
		return rc;
	}
	c->file_bytes += len;
	return 0;
}


/* Creates an empty log (just its header) under a temporary name, then renames it into place. */
static int log_create(lsm_catalog *c)
{
	uint8_t rec[LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN];
	char tmp[PATH_MAX];
	int fd, rc;

	snprintf(tmp, sizeof tmp, "%s/%s", c->dir, LSM_CATALOG_TMP_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return strata_error(-errno, "%s: create: %s", tmp, strerror(errno));
	lsm_record_file_header(rec + LSM_RECORD_HEADER_LEN, LSM_CATALOG_MAGIC, LSM_CATALOG_VERSION, 0);
	lsm_record_header(rec, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
	rc = lsm_write_full(fd, rec, sizeof rec, LSM_FAULT_CATALOG_WRITE);
	if (rc == 0)
		rc = lsm_fault_check(LSM_FAULT_CATALOG_SYNC);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc) {
		unlink(tmp);
		return strata_error(rc, "%s: write: %s", tmp, strata_strerror(rc));
	}
	if (rename(tmp, c->path) != 0) {
		rc = strata_error(-errno, "rename %s to %s: %s", tmp, c->path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return lsm_sync_dir(c->dir, LSM_FAULT_CATALOG_SYNC);
}

/* ---- replay ---- */

/*
 * Ids are handed out in sequence; a gap comes only from reservations that
 * were dropped. The in-memory indexes are arrays by id, so an id far past
 * the ones before it (possible only from a bug, behind a good checksum) is
 * refused as corruption rather than allocated for.
 */
#define SERIES_ID_GAP_MAX (1ull << 32)
#define DB_ID_GAP_MAX (1u << 16)

struct rd {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static uint64_t rd_varint(struct rd *r, uint64_t max)
{
	uint64_t v = 0;
	size_t n;

	if (r->bad)
		return 0;
	n = lsm_get_varint64(r->p, r->end, &v);
	if (n == 0 || v > max) {
		r->bad = true;
		return 0;
	}
	r->p += n;
	return v;
}

static const char *rd_bytes(struct rd *r, size_t *len, size_t max)
{
	const char *s;

	*len = (size_t)rd_varint(r, max);
	if (r->bad || *len > (size_t)(r->end - r->p)) {
		r->bad = true;
		*len = 0;
		return NULL;
	}
	s = (const char *)r->p;
	r->p += *len;
	return s;
}

static int unpub_series(lsm_catalog *c, struct c_db *d, struct c_series *s, char *scratch,
			lsm_series_tag *tags_scratch);
static int rp_replay(lsm_catalog *c, struct rd *r, const char **what);

/* Applies one record read at off during open (one thread, no locks needed). */
static int replay_record(lsm_catalog *c, uint8_t type, const uint8_t *payload, size_t len, uint64_t off,
			 char *scratch, lsm_series_tag *tags_scratch)
{
	struct rd r = { payload, payload + len, false };
	const char *what = NULL;
	char why[320];
	struct c_db *d = NULL;
	int rc = 0;

	switch (type) {
	case LSM_CATREC_DB_CREATE: {
		uint32_t id = (uint32_t)rd_varint(&r, UINT32_MAX);
		size_t n_len;
		const char *name = rd_bytes(&r, &n_len, LSM_CATALOG_NAME_MAX);

		if (r.bad || r.p != r.end) {
			what = "malformed database record";
			break;
		}
		if (check_db_name(name, n_len) != 0) {
			what = "bad database name";
			break;
		}
		if (id == 0 || (id < c->n_dbs && c->dbs[id])) {
			what = "database id 0 or used twice";
			break;
		}
		if (id >= c->next_db_id && id - c->next_db_id > DB_ID_GAP_MAX) {
			what = "database id far past every id before it";
			break;
		}
		if (ht_find(&c->db_names, hash_bytes(name, n_len), 0, name, n_len)) {
			what = "database created twice";
			break;
		}
		d = NAMED_NEW(struct c_db, name, name, n_len);
		if (!d)
			return -ENOMEM;
		d->id = id;
		d->next_field_id = 1;
		rc = pub_db(c, d);
		if (rc) {
			strata_free(d);
			return rc;
		}
		if (id >= c->next_db_id)
			c->next_db_id = id + 1;
		break;
	}
	case LSM_CATREC_DB_DROP: {
		uint32_t id = (uint32_t)rd_varint(&r, UINT32_MAX);

		if (r.bad || r.p != r.end) {
			what = "malformed drop record";
			break;
		}
		d = db_top(c, id);
		if (!d) {
			what = "drop of an unknown database";
			break;
		}
		pub_db_drop(c, d);
		break;
	}
	case LSM_CATREC_SERIES: {
		uint32_t db = (uint32_t)rd_varint(&r, UINT32_MAX);
		uint64_t id = rd_varint(&r, UINT64_MAX - 1);
		size_t k_len;
		const char *key = rd_bytes(&r, &k_len, LSM_CATALOG_KEY_MAX);
		lsm_series_parts pk;
		struct c_series *s;
		uint64_t h;
		bool owned;

		if (r.bad || r.p != r.end) {
			what = "malformed series record";
			break;
		}
		d = db_live(c, db);
		if (!d) {
			what = "series of an unknown database";
			break;
		}
		if (id == 0 || (id < c->by_id_cap && c->by_id[id])) {
			what = "series id 0 or used twice";
			break;
		}
		if (id >= c->next_series_id && id - c->next_series_id > SERIES_ID_GAP_MAX) {
			what = "series id far past every id before it";
			break;
		}
		/* tags_scratch has room for LSM_CATALOG_KEY_MAX / 2 + 1 tags, more than a key holds. */
		/* Names are handed out NUL-terminated: a NUL inside one cannot be told apart. */
		if (memchr(key, 0, k_len)) {
			what = "series key holds a NUL byte";
			break;
		}
		if (lsm_series_key_parse(key, k_len, scratch, tags_scratch, &pk) != 0) {
			snprintf(why, sizeof why, "%s", strata_last_error());
			what = why;
			break;
		}
		h = hash_bytes(key, k_len);
		if (find_series(d, h, key, k_len)) {
			what = "series key registered twice";
			break;
		}
		s = NAMED_NEW(struct c_series, key, key, k_len);
		if (!s)
			return -ENOMEM;
		s->id = id;
		s->db = db;
		rc = pub_series(c, d, s, h, &pk, &owned);
		if (!owned)
			strata_free(s);
		if (rc)
			return rc;
		if (id >= c->next_series_id)
			c->next_series_id = id + 1;
		break;
	}
	case LSM_CATREC_FIELD: {
		uint32_t db = (uint32_t)rd_varint(&r, UINT32_MAX);
		uint32_t id = (uint32_t)rd_varint(&r, UINT32_MAX - 1);
		uint8_t ftype = 0;
		size_t m_len, n_len;
		const char *m, *name;

		if (!r.bad && r.p < r.end)
			ftype = *r.p++;
		else
			r.bad = true;
		m = rd_bytes(&r, &m_len, LSM_CATALOG_NAME_MAX);
		name = rd_bytes(&r, &n_len, LSM_CATALOG_NAME_MAX);
		if (r.bad || r.p != r.end || m_len == 0 || n_len == 0) {
			what = "malformed field record";
			break;
		}
		if (memchr(m, 0, m_len) || memchr(name, 0, n_len)) {
			what = "field name holds a NUL byte";
			break;
		}
		if (!type_valid((enum lsm_field_type)ftype) || id == 0) {
			what = "field of an unknown type or id 0";
			break;
		}
		d = db_live(c, db);
		if (!d) {
			what = "field of an unknown database";
			break;
		}
		if (find_field(d, m, m_len, name, n_len)) {
			what = "field registered twice";
			break;
		}
		rc = pub_field(d, m, m_len, name, n_len, id, (enum lsm_field_type)ftype);
		if (rc)
			return rc;
		if (id >= d->next_field_id)
			d->next_field_id = id + 1;
		break;
	}
	case LSM_CATREC_RP:
		rc = rp_replay(c, &r, &what);
		if (rc)
			return rc;
		break;
	case LSM_CATREC_SERIES_DROP: {
		uint32_t db = (uint32_t)rd_varint(&r, UINT32_MAX);
		uint64_t id = rd_varint(&r, UINT64_MAX - 1);
		struct c_series *s;

		if (r.bad || r.p != r.end) {
			what = "malformed series drop record";
			break;
		}
		d = db_live(c, db);
		s = id < c->by_id_cap ? c->by_id[id] : NULL;
		if (!d || !s || s->db != db) {
			what = "drop of a series that is not live in its database";
			break;
		}
		rc = unpub_series(c, d, s, scratch, tags_scratch);
		if (rc)
			return rc;
		break;
	}
	default:
		what = "unknown record type";
		break;
	}
	if (what)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " (type %u, %zu bytes): %s",
				    c->path, off, type, len, what);
	return 0;
}

/* Whether a whole record with a matching checksum starts at p (h: its 16 header bytes). */
static bool record_at(int fd, uint64_t p, uint64_t size, const uint8_t *h)
{
	uint8_t expect[LSM_RECORD_HEADER_LEN], *payload;
	uint32_t len = lsm_get_le32(h + 8);
	uint8_t type = h[12];
	bool ok = false;

	if (h[13] || h[14] || h[15])
		return false;
	if (type != LSM_REC_FILE_HEADER && (type < LSM_CATREC_DB_CREATE || type > LSM_CATREC_RP) &&
	    type != LSM_CATREC_SERIES_DROP)
		return false;
	if (len > size - p - LSM_RECORD_HEADER_LEN)
		return false;
	payload = strata_malloc(len ? len : 1);
	if (!payload)
		return true; /* cannot tell: the safe answer refuses to trim */
	if (pread(fd, payload, len, (off_t)(p + LSM_RECORD_HEADER_LEN)) == (ssize_t)len) {
		lsm_record_header(expect, (enum lsm_record_type)type, payload, len);
		ok = memcmp(expect, h, 8) == 0;
	} else {
		ok = true;
	}
	strata_free(payload);
	return ok;
}

/*
 * Whether the damaged record at off is the torn end of the last append:
 * no valid record (header and matching checksum) starts at any offset after
 * it. A damaged length in the middle of the log may claim an extent past the
 * end of the file, so the claim alone is not trusted: the records that
 * follow the damage are what shows it is not a tear. Reads the rest of the
 * file once; only a damaged log pays for it.
 */
static bool damage_is_tail(const char *path, uint64_t off, uint64_t file_size)
{
	enum { WINDOW = 64 << 10 };
	uint8_t *buf = NULL;
	uint64_t base;
	bool tail = true;
	int fd;

	if (file_size - off <= LSM_RECORD_HEADER_LEN)
		return true;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	buf = strata_malloc(WINDOW + LSM_RECORD_HEADER_LEN);
	if (fd < 0 || !buf) {
		tail = false; /* cannot tell: refuse to trim */
		goto out;
	}
	/* Candidate starts p in (off, file_size - 16], a window of them at a time. */
	for (base = off + 1; tail && base + LSM_RECORD_HEADER_LEN <= file_size; base += WINDOW) {
		uint64_t want = file_size - base < WINDOW + LSM_RECORD_HEADER_LEN ? file_size - base
										       : WINDOW + LSM_RECORD_HEADER_LEN;
		ssize_t got = pread(fd, buf, (size_t)want, (off_t)base);

		if (got != (ssize_t)want) {
			tail = false;
			break;
		}
		for (uint64_t i = 0; i < WINDOW && i + LSM_RECORD_HEADER_LEN <= want; i++) {
			if (record_at(fd, base + i, file_size, buf + i)) {
				tail = false;
				break;
			}
		}
	}
out:
	if (fd >= 0)
		close(fd);
	strata_free(buf);
	return tail;
}

static int log_trim(const char *path, uint64_t from, uint64_t to)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return strata_error(-errno, "%s: open: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)to) != 0)
		rc = strata_error(-errno, "%s: truncate to %" PRIu64 ": %s", path, to, strerror(errno));
	else if (fsync(fd) != 0) /* fsync: the new size is what must reach the disk */
		rc = strata_error(-errno, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	if (rc == 0)
		LOG_WARN("event=catalog_tail_trimmed file=%s from=%" PRIu64 " to=%" PRIu64, path, from, to);
	return rc;
}

static int log_replay(lsm_catalog *c)
{
	lsm_record_reader *r = NULL;
	lsm_series_tag *tags = NULL;
	char *scratch = NULL;
	uint64_t valid = 0, size;
	int rc;

	rc = lsm_record_reader_open(&r, c->path, LSM_CATALOG_MAGIC, LSM_CATALOG_VERSION, NULL);
	if (rc)
		goto out;
	scratch = strata_malloc(LSM_CATALOG_KEY_MAX);
	tags = strata_malloc((LSM_CATALOG_KEY_MAX / 2 + 1) * sizeof(*tags));
	if (!scratch || !tags) {
		rc = -ENOMEM;
		goto out;
	}
	size = lsm_record_reader_file_size(r);
	for (;;) {
		const uint8_t *payload;
		size_t len;
		uint8_t type;

		rc = lsm_record_reader_next(r, &type, &payload, &len);
		valid = lsm_record_reader_offset(r);
		if (rc == 0)
			break;
		if (rc == STRATA_ECORRUPT) {
			if (!damage_is_tail(c->path, valid, size)) {
				char why[512];

				/* The reader's message names the offset; copied, as strata_error rewrites it. */
				snprintf(why, sizeof why, "%s", strata_last_error());
				rc = strata_error(STRATA_ECORRUPT, "%s, and valid records follow it: not a torn tail",
						  why);
				goto out;
			}
			LOG_WARN("event=catalog_torn_tail file=%s offset=%" PRIu64 " dropped_bytes=%" PRIu64 " reason=\"%s\"",
				 c->path, valid, size - valid, strata_last_error());
			rc = 0;
			break;
		}
		if (rc < 0)
			goto out;
		if (type == LSM_REC_FILE_HEADER) {
			rc = strata_error(STRATA_ECORRUPT, "%s: second file header at offset %" PRIu64, c->path, valid);
			goto out;
		}
		rc = replay_record(c, type, payload, len, valid, scratch, tags);
		if (rc)
			goto out;
	}
	/* Cut a torn or zero-filled tail so that appends follow valid data. */
	if (valid < size)
		rc = log_trim(c->path, size, valid);
	c->file_bytes = valid;
out:
	lsm_record_reader_close(r);
	strata_free(scratch);
	strata_free(tags);
	return rc;
}

/* ---- open / close ---- */

int lsm_catalog_open(lsm_catalog **out, const char *dir)
{
	pthread_rwlockattr_t attr;
	size_t dir_len = strlen(dir);
	char tmp[PATH_MAX];
	lsm_catalog *c;
	struct stat st;
	int rc;

	*out = NULL;
	if (dir_len + sizeof(LSM_CATALOG_TMP_FILE) + 2 > PATH_MAX)
		return strata_error(STRATA_EINVAL, "catalog directory path too long: %s", dir);
	c = strata_calloc(1, sizeof(*c) + dir_len + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c->dir, dir, dir_len + 1);
	c->fd = -1;
	c->next_series_id = 1;
	c->next_db_id = 1;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->rw, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&c->mu, NULL);
	c->path = strata_malloc(dir_len + sizeof(LSM_CATALOG_FILE) + 2);
	if (!c->path) {
		rc = -ENOMEM;
		goto fail;
	}
	snprintf(c->path, dir_len + sizeof(LSM_CATALOG_FILE) + 2, "%s/%s", dir, LSM_CATALOG_FILE);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = strata_error(-errno, "mkdir %s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(tmp, sizeof tmp, "%s/%s", dir, LSM_CATALOG_TMP_FILE);
	if (unlink(tmp) == 0)
		LOG_INFO("event=catalog_tmp_removed file=%s", tmp);
	if (stat(c->path, &st) != 0) {
		if (errno != ENOENT) {
			rc = strata_error(-errno, "%s: stat: %s", c->path, strerror(errno));
			goto fail;
		}
		rc = log_create(c);
		if (rc)
			goto fail;
	}
	rc = log_replay(c);
	if (rc)
		goto fail;
	c->fd = open(c->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (c->fd < 0) {
		rc = strata_error(-errno, "%s: open: %s", c->path, strerror(errno));
		goto fail;
	}
	LOG_INFO("event=catalog_open file=%s databases=%" PRIu32 " series=%" PRIu64 " bytes=%" PRIu64,
		 c->path, (uint32_t)c->db_names.n, c->n_series, c->file_bytes);
	*out = c;
	return 0;
fail:
	lsm_catalog_close(c);
	return rc;
}

void lsm_catalog_close(lsm_catalog *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n_dbs; i++) {
		if (c->dbs[i]) {
			db_clear(c->dbs[i]);
			strata_free(c->dbs[i]);
		}
	}
	strata_free(c->dbs);
	ht_free(&c->db_names, NULL);
	strata_free(c->by_id);
	/* Transactions are freed before close: pending maps are empty. */
	ht_free(&c->pend_series, strata_free);
	ht_free(&c->pend_fields, strata_free);
	if (c->fd >= 0)
		close(c->fd);
	pthread_rwlock_destroy(&c->rw);
	pthread_mutex_destroy(&c->mu);
	strata_free(c->path);
	strata_free(c);
}

void lsm_catalog_set_max_series_per_db(lsm_catalog *c, uint64_t max)
{
	pthread_mutex_lock(&c->mu);
	c->max_series_per_db = max;
	pthread_mutex_unlock(&c->mu);
}

void lsm_catalog_set_max_series(lsm_catalog *c, uint64_t max)
{
	pthread_mutex_lock(&c->mu);
	c->max_series = max;
	pthread_mutex_unlock(&c->mu);
}

/* ---- databases ---- */

int lsm_catalog_create_database(lsm_catalog *c, const char *name)
{
	uint8_t rec[DB_REC_MAX], *p;
	size_t len = strlen(name), n;
	struct c_db *d = NULL;
	int rc;

	rc = check_db_name(name, len);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	if (ht_find(&c->db_names, hash_bytes(name, len), 0, name, len))
		goto out; /* exists: rc 0 */
	if (c->next_db_id == UINT32_MAX) {
		rc = strata_error(STRATA_ETOOBIG, "%s: no database ids left", c->path);
		goto out;
	}
	d = NAMED_NEW(struct c_db, name, name, len);
	if (!d) {
		rc = -ENOMEM;
		goto out;
	}
	d->id = c->next_db_id;
	d->next_field_id = 1;
	p = rec + LSM_RECORD_HEADER_LEN;
	p += lsm_put_varint64(p, d->id);
	p += put_bytes(p, name, len);
	n = frame(rec, LSM_CATREC_DB_CREATE, (size_t)(p - rec) - LSM_RECORD_HEADER_LEN);
	rc = log_append(c, rec, n);
	if (rc)
		goto out;
	c->next_db_id++;
	pthread_rwlock_wrlock(&c->rw);
	rc = pub_db(c, d);
	pthread_rwlock_unlock(&c->rw);
	if (rc) {
		/* Durable but not in memory: refuse further changes until reopened. */
		c->sticky_rc = rc;
		goto out;
	}
	d = NULL;
	LOG_INFO("event=database_created name=%s id=%" PRIu32, name, c->next_db_id - 1);
out:
	pthread_mutex_unlock(&c->mu);
	strata_free(d);
	return rc;
}

int lsm_catalog_drop_database(lsm_catalog *c, const char *name)
{
	uint8_t rec[LSM_RECORD_HEADER_LEN + LSM_VARINT32_MAX], *p;
	size_t len = strlen(name), n;
	struct c_db *d;
	int rc;

	pthread_mutex_lock(&c->mu);
	d = ht_find(&c->db_names, hash_bytes(name, len), 0, name, len);
	if (!d) {
		rc = strata_error(STRATA_ENOTFOUND, "database \"%s\" not found", name);
		goto out;
	}
	p = rec + LSM_RECORD_HEADER_LEN;
	p += lsm_put_varint64(p, d->id);
	n = frame(rec, LSM_CATREC_DB_DROP, (size_t)(p - rec) - LSM_RECORD_HEADER_LEN);
	rc = log_append(c, rec, n);
	if (rc)
		goto out;
	pthread_rwlock_wrlock(&c->rw);
	pub_db_drop(c, d);
	pthread_rwlock_unlock(&c->rw);
	atomic_fetch_add(&c->generation, 1);
	LOG_INFO("event=database_dropped name=%s id=%" PRIu32, name, d->id);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int lsm_catalog_database_id(lsm_catalog *c, const char *name, uint32_t *out)
{
	size_t len = strlen(name);
	struct c_db *d;
	int rc = 0;

	pthread_rwlock_rdlock(&c->rw);
	d = ht_find(&c->db_names, hash_bytes(name, len), 0, name, len);
	if (d)
		*out = d->id;
	pthread_rwlock_unlock(&c->rw);
	if (!d)
		rc = strata_error(STRATA_ENOTFOUND, "database \"%s\" not found", name);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void lsm_catalog_free_names(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		strata_free(names[i]);
	strata_free(names);
}

/* Copies the names of the items of t (rw held) into a new array. */
static int copy_names(const struct htab *t, char ***out, size_t *n_out)
{
	char **names;
	size_t n = 0;

	*out = NULL;
	*n_out = 0;
	if (t->n == 0)
		return 0;
	names = strata_calloc(t->n, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		const struct hkey *k = t->slots[i].item;

		if (!k)
			continue;
		names[n] = strata_malloc(k->len + 1);
		if (!names[n]) {
			lsm_catalog_free_names(names, n);
			return -ENOMEM;
		}
		memcpy(names[n], k->p, k->len);
		names[n][k->len] = 0;
		n++;
	}
	*out = names;
	*n_out = n;
	return 0;
}

static int finish_names(int rc, char ***out, size_t *n_out)
{
	if (rc == 0 && *n_out > 1)
		qsort(*out, *n_out, sizeof(**out), cmp_str);
	return rc;
}

int lsm_catalog_databases(lsm_catalog *c, char ***out, size_t *n_out)
{
	int rc;

	pthread_rwlock_rdlock(&c->rw);
	rc = copy_names(&c->db_names, out, n_out);
	pthread_rwlock_unlock(&c->rw);
	return finish_names(rc, out, n_out);
}

/* ---- series lookups ---- */

static int db_not_found(uint32_t db)
{
	return strata_error(STRATA_ENOTFOUND, "database id %" PRIu32 " not found", db);
}

int lsm_catalog_series_id(lsm_catalog *c, uint32_t db, const char *key, size_t key_len, uint64_t *out)
{
	uint64_t h = hash_bytes(key, key_len);
	struct c_series *s = NULL;
	struct c_db *d;

	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		s = find_series(d, h, key, key_len);
		if (s)
			*out = s->id;
	}
	pthread_rwlock_unlock(&c->rw);
	if (!d)
		return db_not_found(db);
	if (!s)
		return strata_error(STRATA_ENOTFOUND, "series \"%.*s\" not found", key_len > 200 ? 200 : (int)key_len, key);
	return 0;
}

long lsm_catalog_series_key(lsm_catalog *c, uint64_t id, char *out, size_t cap)
{
	struct c_series *s;
	long rc;

	pthread_rwlock_rdlock(&c->rw);
	s = id < c->by_id_cap ? c->by_id[id] : NULL;
	if (!s) {
		rc = STRATA_ENOTFOUND;
	} else if (s->k.len > cap) {
		rc = STRATA_ETOOBIG;
	} else {
		memcpy(out, s->key, s->k.len);
		rc = (long)s->k.len;
	}
	pthread_rwlock_unlock(&c->rw);
	if (rc == STRATA_ENOTFOUND)
		strata_error(STRATA_ENOTFOUND, "series id %" PRIu64 " not found", id);
	else if (rc == STRATA_ETOOBIG)
		strata_error(STRATA_ETOOBIG, "series key of series %" PRIu64 " longer than %zu bytes", id, cap);
	return rc;
}

uint64_t lsm_catalog_series_count(lsm_catalog *c)
{
	uint64_t n;

	pthread_rwlock_rdlock(&c->rw);
	n = c->n_series;
	pthread_rwlock_unlock(&c->rw);
	return n;
}

/* ---- fields ---- */

int lsm_catalog_field(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
		      const char *name, size_t name_len, uint32_t *out_id, enum lsm_field_type *out_type)
{
	struct c_field *f = NULL;
	struct c_db *d;

	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		f = find_field(d, measurement, m_len, name, name_len);
		if (f) {
			if (out_id)
				*out_id = f->id;
			if (out_type)
				*out_type = f->type;
		}
	}
	pthread_rwlock_unlock(&c->rw);
	if (!d)
		return db_not_found(db);
	if (!f)
		return strata_error(STRATA_ENOTFOUND, "field \"%.*s\" of measurement \"%.*s\" not found",
				    (int)(name_len > 255 ? 255 : name_len), name, (int)(m_len > 255 ? 255 : m_len), measurement);
	return 0;
}

static int cmp_field(const void *a, const void *b)
{
	return strcmp(((const lsm_field_info *)a)->name, ((const lsm_field_info *)b)->name);
}

void lsm_catalog_free_fields(lsm_field_info *fields, size_t n)
{
	if (!fields)
		return;
	for (size_t i = 0; i < n; i++)
		strata_free(fields[i].name);
	strata_free(fields);
}

int lsm_catalog_fields(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
		       lsm_field_info **out, size_t *n_out)
{
	lsm_field_info *fields = NULL;
	struct c_meas *m = NULL;
	struct c_db *d;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (!d) {
		rc = STRATA_ENOTFOUND;
		goto unlock;
	}
	m = find_meas(d, measurement, m_len);
	if (!m || m->fields.n == 0)
		goto unlock;
	fields = strata_calloc(m->fields.n, sizeof(*fields));
	if (!fields) {
		rc = -ENOMEM;
		goto unlock;
	}
	for (size_t i = 0; i < m->fields.cap; i++) {
		const struct c_field *f = m->fields.slots[i].item;

		if (!f)
			continue;
		fields[n].name = strata_malloc(f->k.len + 1);
		if (!fields[n].name) {
			rc = -ENOMEM;
			break;
		}
		memcpy(fields[n].name, f->name, f->k.len + 1);
		fields[n].id = f->id;
		fields[n].type = f->type;
		n++;
	}
unlock:
	pthread_rwlock_unlock(&c->rw);
	if (rc == STRATA_ENOTFOUND)
		return db_not_found(db);
	if (rc) {
		lsm_catalog_free_fields(fields, n);
		return rc;
	}
	if (n > 1)
		qsort(fields, n, sizeof(*fields), cmp_field);
	*out = fields;
	*n_out = n;
	return 0;
}

/* ---- postings ---- */

static int copy_ids(const struct idvec *v, uint64_t **out, size_t *n_out)
{
	if (!v || v->n == 0)
		return 0;
	*out = strata_malloc(v->n * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, v->ids, v->n * sizeof(**out));
	*n_out = v->n;
	return 0;
}

int lsm_catalog_measurement_series(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
				   uint64_t **out, size_t *n_out)
{
	struct c_meas *m;
	struct c_db *d;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		m = find_meas(d, measurement, m_len);
		rc = copy_ids(m ? &m->ids : NULL, out, n_out);
	}
	pthread_rwlock_unlock(&c->rw);
	return d ? rc : db_not_found(db);
}

static struct c_tagkey *find_tagkey(struct c_meas *m, const char *key, size_t key_len)
{
	return ht_find(&m->tag_keys, hash_bytes(key, key_len), 0, key, key_len);
}

int lsm_catalog_tag_series(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
			   const char *key, size_t key_len, const char *value, size_t value_len,
			   uint64_t **out, size_t *n_out)
{
	struct c_tagval *v = NULL;
	struct c_tagkey *k;
	struct c_meas *m;
	struct c_db *d;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		m = find_meas(d, measurement, m_len);
		k = m ? find_tagkey(m, key, key_len) : NULL;
		if (k)
			v = ht_find(&k->values, hash_bytes(value, value_len), 0, value, value_len);
		rc = copy_ids(v ? &v->ids : NULL, out, n_out);
	}
	pthread_rwlock_unlock(&c->rw);
	return d ? rc : db_not_found(db);
}

int lsm_catalog_measurements(lsm_catalog *c, uint32_t db, char ***out, size_t *n_out)
{
	struct c_db *d;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d)
		rc = copy_names(&d->meas, out, n_out);
	pthread_rwlock_unlock(&c->rw);
	return d ? finish_names(rc, out, n_out) : db_not_found(db);
}

int lsm_catalog_tag_keys(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len, char ***out, size_t *n_out)
{
	struct c_meas *m;
	struct c_db *d;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		m = find_meas(d, measurement, m_len);
		if (m)
			rc = copy_names(&m->tag_keys, out, n_out);
	}
	pthread_rwlock_unlock(&c->rw);
	return d ? finish_names(rc, out, n_out) : db_not_found(db);
}

int lsm_catalog_tag_values(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
			   const char *key, size_t key_len, char ***out, size_t *n_out)
{
	struct c_tagkey *k = NULL;
	struct c_meas *m;
	struct c_db *d;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		m = find_meas(d, measurement, m_len);
		k = m ? find_tagkey(m, key, key_len) : NULL;
		if (k)
			rc = copy_names(&k->values, out, n_out);
	}
	pthread_rwlock_unlock(&c->rw);
	return d ? finish_names(rc, out, n_out) : db_not_found(db);
}

/* ---- dropping series ---- */

/* Removes the posting of id from tag value v of key k of m, and what it leaves empty. */
static void unpost_tag(struct c_meas *m, const lsm_series_tag *t, uint64_t id)
{
	uint64_t kh = hash_bytes(t->k, t->k_len), vh = hash_bytes(t->v, t->v_len);
	struct c_tagkey *tk = ht_find(&m->tag_keys, kh, 0, t->k, t->k_len);
	struct c_tagval *tv = tk ? ht_find(&tk->values, vh, 0, t->v, t->v_len) : NULL;

	if (!tv)
		return;
	idvec_del(&tv->ids, id);
	if (tv->ids.n)
		return;
	ht_remove(&tk->values, vh, 0, t->v, t->v_len);
	tagval_free(tv);
	if (tk->values.n)
		return;
	ht_remove(&m->tag_keys, kh, 0, t->k, t->k_len);
	tagkey_free(tk);
}

/*
 * Takes live series s out of d and frees it (rw held exclusively, or a
 * single thread at open). scratch and tags_scratch have room for a key of
 * LSM_CATALOG_KEY_MAX bytes. A measurement left without series goes with
 * its fields, as InfluxDB forgets them. STRATA_ECORRUPT only when the key
 * no longer parses (it did when published).
 */
static int unpub_series(lsm_catalog *c, struct c_db *d, struct c_series *s, char *scratch,
			lsm_series_tag *tags_scratch)
{
	lsm_series_parts pk;
	struct c_meas *m;
	int rc;

	rc = lsm_series_key_parse(s->key, s->k.len, scratch, tags_scratch, &pk);
	if (rc)
		return rc;
	ht_remove(&d->series, hash_bytes(s->key, s->k.len), 0, s->key, s->k.len);
	c->by_id[s->id] = NULL;
	c->n_series--;
	d->n_series--;
	m = find_meas(d, pk.m, pk.m_len);
	if (m) {
		idvec_del(&m->ids, s->id);
		for (uint32_t i = 0; i < pk.n_tags; i++)
			unpost_tag(m, &pk.tags[i], s->id);
		if (m->ids.n == 0) {
			ht_remove(&d->meas, hash_bytes(pk.m, pk.m_len), 0, pk.m, pk.m_len);
			meas_free(m);
		}
	}
	strata_free(s);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define SERIES_DROP_REC_MAX (LSM_RECORD_HEADER_LEN + LSM_VARINT32_MAX + LSM_VARINT64_MAX)

int lsm_catalog_drop_series(lsm_catalog *c, uint32_t db, const uint64_t *ids, size_t n)
{
	lsm_series_tag *tags = NULL;
	struct c_series **drop = NULL;
	uint64_t *sorted = NULL;
	char *scratch = NULL;
	uint8_t *buf = NULL;
	size_t n_drop = 0, len = 0;
	struct c_db *d;
	int rc = 0;

	if (n) {
		sorted = strata_malloc(n * sizeof(*sorted));
		drop = strata_malloc(n * sizeof(*drop));
		buf = n <= SIZE_MAX / SERIES_DROP_REC_MAX ? strata_malloc(n * SERIES_DROP_REC_MAX) : NULL;
		/* Allocated before the write: nothing may fail between the sync and publishing. */
		scratch = strata_malloc(LSM_CATALOG_KEY_MAX);
		tags = strata_malloc((LSM_CATALOG_KEY_MAX / 2 + 1) * sizeof(*tags));
		if (!sorted || !drop || !buf || !scratch || !tags) {
			rc = -ENOMEM;
			goto free;
		}
		memcpy(sorted, ids, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_u64);
	}
	pthread_mutex_lock(&c->mu);
	d = db_live(c, db);
	if (!d) {
		rc = db_not_found(db);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct c_series *s;
		uint8_t *p;

		if (i && sorted[i] == sorted[i - 1])
			continue;
		s = sorted[i] < c->by_id_cap ? c->by_id[sorted[i]] : NULL;
		if (!s || s->db != db)
			continue;
		drop[n_drop++] = s;
		p = buf + len + LSM_RECORD_HEADER_LEN;
		p += lsm_put_varint64(p, db);
		p += lsm_put_varint64(p, s->id);
		len += frame(buf + len, LSM_CATREC_SERIES_DROP, (size_t)(p - (buf + len)) - LSM_RECORD_HEADER_LEN);
	}
	if (n_drop == 0)
		goto out;
	rc = log_append(c, buf, len);
	if (rc)
		goto out;
	pthread_rwlock_wrlock(&c->rw);
	for (size_t i = 0; i < n_drop && rc == 0; i++)
		rc = unpub_series(c, d, drop[i], scratch, tags);
	pthread_rwlock_unlock(&c->rw);
	atomic_fetch_add(&c->generation, 1);
	if (rc) {
		/* Durable but not all in memory: refuse changes until reopened. */
		c->sticky_rc = rc;
		strata_error(rc, "%s: publishing a series drop: %s", c->path, strata_strerror(rc));
		goto out;
	}
	LOG_INFO("event=series_dropped db=%" PRIu32 " series=%zu", db, n_drop);
out:
	pthread_mutex_unlock(&c->mu);
free:
	strata_free(sorted);
	strata_free(drop);
	strata_free(buf);
	strata_free(scratch);
	strata_free(tags);
	return rc;
}

uint64_t lsm_catalog_generation(lsm_catalog *c)
{
	return atomic_load(&c->generation);
}

/* ---- transactions ---- */

int lsm_catalog_txn_new(lsm_catalog_txn **out, lsm_catalog *c)
{
	lsm_catalog_txn *t = strata_calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->c = c;
	*out = t;
	return 0;
}

/* Drops the transaction's references (mu held); entries nobody holds are forgotten. */
static void txn_release(lsm_catalog_txn *t)
{
	lsm_catalog *c = t->c;

	for (size_t i = 0; i < t->n_series; i++) {
		struct pend_series *e = t->series[i];

		if (--e->refs > 0)
			continue;
		if (!e->published) {
			ht_remove(&c->pend_series, hash_db(e->hash, e->k.db), e->k.db, e->k.p, e->k.len);
			c->n_pending--;
			pending_done(c, e->k.db);
		}
		strata_free(e);
	}
	for (size_t i = 0; i < t->n_fields; i++) {
		struct pend_field *e = t->fields[i];

		if (--e->refs > 0)
			continue;
		if (!e->published)
			ht_remove(&c->pend_fields, hash_db(hash_bytes(e->k.p, e->k.len), e->k.db), e->k.db,
				  e->k.p, e->k.len);
		strata_free(e);
	}
	t->n_series = 0;
	t->n_fields = 0;
	ht_clear(&t->own_series);
	ht_clear(&t->own_fields);
}

void lsm_catalog_txn_reset(lsm_catalog_txn *t)
{
	if (t->n_series == 0 && t->n_fields == 0)
		return;
	pthread_mutex_lock(&t->c->mu);
	txn_release(t);
	pthread_mutex_unlock(&t->c->mu);
}

void lsm_catalog_txn_free(lsm_catalog_txn *t)
{
	if (!t)
		return;
	lsm_catalog_txn_reset(t);
	ht_free(&t->own_series, NULL);
	ht_free(&t->own_fields, NULL);
	strata_free(t->series);
	strata_free(t->fields);
	strata_free(t->pre);
	strata_free(t->buf);
	strata_free(t);
}

/* Room for one more reference in the arrays and own maps, so that nothing fails under mu. */
static int txn_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	void *p;
	size_t new_cap;

	if (n < *cap)
		return 0;
	new_cap = *cap ? *cap * 2 : 16;
	p = strata_realloc(*arr, new_cap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = new_cap;
	return 0;
}

/*
 * Step 3 of a series lookup, under the mutex: the id of fresh's key,
 * published since step 1, reserved by another transaction, or reserved now
 * (then fresh is taken: *fresh becomes NULL). The transaction's arrays and
 * own map have room for one more.
 */
/* Series of the database of store d, published and reserved, over all its policies' stores (mu held). */
static uint64_t db_series_total(lsm_catalog *c, const struct c_db *d)
{
	uint32_t top = d->parent ? d->parent : d->id;
	uint64_t n = 0;

	for (uint32_t i = top; i < c->n_dbs; i++) {
		const struct c_db *s = c->dbs[i];

		if (s && !s->dropped && (i == top || s->parent == top))
			n += s->n_series + s->n_pending;
	}
	return n;
}

static int series_reserve(lsm_catalog_txn *t, struct pend_series **fresh, uint64_t hd, uint64_t *out_id)
{
	lsm_catalog *c = t->c;
	struct pend_series *e = *fresh;
	uint32_t db = e->k.db;
	struct c_series *s;
	struct c_db *d;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	d = db_live(c, db);
	if (!d) {
		rc = db_not_found(db);
		goto out;
	}
	s = find_series(d, e->hash, e->k.p, e->k.len);
	if (s) {
		*out_id = s->id;
		goto out;
	}
	e = ht_find(&c->pend_series, hd, db, e->k.p, e->k.len);
	if (e) {
		e->refs++;
	} else {
		e = *fresh;
		if (c->max_series && c->n_series + c->n_pending >= c->max_series) {
			rc = strata_error(STRATA_ETOOBIG, "series limit of %" PRIu64 " reached: series \"%.*s\" not created",
					  c->max_series, e->k.len > 200 ? 200 : (int)e->k.len, e->k.p);
			goto out;
		}
		if (c->max_series_per_db && db_series_total(c, d) >= c->max_series_per_db) {
			const struct c_db *top = d->parent ? c->dbs[d->parent] : d;

			rc = strata_error(STRATA_ETOOBIG,
					  "series limit of %" PRIu64 " per database reached in database %s: series "
					  "\"%.*s\" not created",
					  c->max_series_per_db, top->name, e->k.len > 200 ? 200 : (int)e->k.len, e->k.p);
			goto out;
		}
		rc = ht_insert(&c->pend_series, hd, e);
		if (rc)
			goto out;
		e->id = c->next_series_id++;
		c->n_pending++;
		d->n_pending++;
		*fresh = NULL;
	}
	t->series[t->n_series++] = e;
	ht_place(t->own_series.slots, t->own_series.cap, hd, e);
	t->own_series.n++;
	*out_id = e->id;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int lsm_catalog_txn_series(lsm_catalog_txn *t, uint32_t db, const char *key, size_t key_len, uint64_t *out_id)
{
	lsm_catalog *c = t->c;
	struct pend_series *e, *fresh = NULL;
	struct c_series *s = NULL;
	struct c_db *d;
	uint64_t h, hd;
	size_t max_tags;
	char *key_copy;
	int rc = 0;

	if (key_len == 0)
		return strata_error(STRATA_EINVAL, "empty series key");
	if (key_len > LSM_CATALOG_KEY_MAX)
		return strata_error(STRATA_ETOOBIG, "series key of %zu bytes, over the %d byte limit",
				    key_len, LSM_CATALOG_KEY_MAX);
	h = hash_bytes(key, key_len);

	/* 1. Published: the fast path. */
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		s = find_series(d, h, key, key_len);
		if (s)
			*out_id = s->id;
	}
	pthread_rwlock_unlock(&c->rw);
	if (!d)
		return db_not_found(db);
	if (s)
		return 0;

	/* 2. Reserved by this transaction already. */
	hd = hash_db(h, db);
	e = ht_find(&t->own_series, hd, db, key, key_len);
	if (e) {
		*out_id = e->id;
		return 0;
	}

	/* A new key: check it and build its entry before taking the mutex. */
	max_tags = lsm_series_key_max_tags(key, key_len);
	fresh = strata_malloc(sizeof(*fresh) + max_tags * sizeof(lsm_series_tag) + 2 * key_len);
	if (!fresh)
		return -ENOMEM;
	key_copy = (char *)fresh + sizeof(*fresh) + max_tags * sizeof(lsm_series_tag);
	memcpy(key_copy, key, key_len);
	rc = lsm_series_key_parse(key_copy, key_len, key_copy + key_len,
		       (lsm_series_tag *)((char *)fresh + sizeof(*fresh)), &fresh->pk);
	if (rc)
		goto out;
	fresh->k.p = key_copy;
	fresh->k.len = (uint32_t)key_len;
	fresh->k.db = db;
	fresh->hash = h;
	fresh->id = 0;
	fresh->refs = 1;
	fresh->published = false;
	rc = txn_grow((void **)&t->series, &t->cap_series, t->n_series, sizeof(*t->series));
	if (rc == 0)
		rc = ht_reserve(&t->own_series, t->own_series.n + 1);
	if (rc == 0)
		rc = series_reserve(t, &fresh, hd, out_id); /* 3. */
out:
	strata_free(fresh);
	return rc;
}

static int type_conflict(enum lsm_field_type have, enum lsm_field_type want, enum lsm_field_type *out_type,
			 const char *m, size_t m_len, const char *name, size_t name_len)
{
	if (out_type)
		*out_type = have;
	return strata_error(STRATA_ETYPE, "field \"%.*s\" of measurement \"%.*s\" is %s, not %s",
			    (int)name_len, name, (int)m_len, m, lsm_field_type_name(have), lsm_field_type_name(want));
}

/*
 * Step 3 of a field lookup, under the mutex: the id and type of fresh's
 * field, published since step 1, pending in another transaction (with its
 * type, which may differ), or reserved now (fresh is taken).
 */
static int field_reserve(lsm_catalog_txn *t, struct pend_field **fresh, uint64_t hd,
			 uint32_t *out_id, enum lsm_field_type *out_type)
{
	lsm_catalog *c = t->c;
	struct pend_field *e = *fresh;
	uint32_t db = e->k.db;
	size_t m_len = (uint8_t)e->key[0];
	struct c_field *f;
	struct c_db *d;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	d = db_live(c, db);
	if (!d) {
		rc = db_not_found(db);
		goto out;
	}
	f = find_field(d, e->key + 1, m_len, e->key + 1 + m_len, e->k.len - 1 - m_len);
	if (f) {
		*out_id = f->id;
		*out_type = f->type;
		goto out;
	}
	e = ht_find(&c->pend_fields, hd, db, e->k.p, e->k.len);
	if (e && e->type != (*fresh)->type) {
		/* Another transaction has it pending with another type: not ours to hold. */
		*out_id = e->id;
		*out_type = e->type;
		goto out;
	}
	if (e) {
		e->refs++;
	} else {
		e = *fresh;
		if (d->next_field_id == UINT32_MAX) {
			rc = strata_error(STRATA_ETOOBIG, "database id %" PRIu32 ": no field ids left", db);
			goto out;
		}
		rc = ht_insert(&c->pend_fields, hd, e);
		if (rc)
			goto out;
		e->id = d->next_field_id++;
		*fresh = NULL;
	}
	t->fields[t->n_fields++] = e;
	ht_place(t->own_fields.slots, t->own_fields.cap, hd, e);
	t->own_fields.n++;
	*out_id = e->id;
	*out_type = e->type;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int lsm_catalog_txn_field(lsm_catalog_txn *t, uint32_t db, const char *measurement, size_t m_len,
			  const char *name, size_t name_len, enum lsm_field_type type,
			  uint32_t *out_id, enum lsm_field_type *out_type)
{
	lsm_catalog *c = t->c;
	struct pend_field *e, *fresh = NULL;
	struct c_field *f = NULL;
	char key[FIELD_KEY_MAX];
	size_t key_len;
	struct c_db *d;
	uint32_t found_id = 0;
	enum lsm_field_type found_type = 0;
	uint64_t hd;
	int rc;

	rc = check_name("measurement name", m_len);
	if (rc == 0)
		rc = check_name("field name", name_len);
	if (rc)
		return rc;
	if (!type_valid(type))
		return strata_error(STRATA_EINVAL, "unknown field type %d", (int)type);

	/* 1. Published: the fast path. */
	pthread_rwlock_rdlock(&c->rw);
	d = db_live(c, db);
	if (d) {
		f = find_field(d, measurement, m_len, name, name_len);
		if (f) {
			found_id = f->id;
			found_type = f->type;
		}
	}
	pthread_rwlock_unlock(&c->rw);
	if (!d)
		return db_not_found(db);
	if (f)
		goto check;

	/* 2. Reserved by this transaction already. */
	key[0] = (char)(uint8_t)m_len;
	memcpy(key + 1, measurement, m_len);
	memcpy(key + 1 + m_len, name, name_len);
	key_len = 1 + m_len + name_len;
	hd = hash_db(hash_bytes(key, key_len), db);
	e = ht_find(&t->own_fields, hd, db, key, key_len);
	if (e) {
		found_id = e->id;
		found_type = e->type;
		goto check;
	}

	/* 3. Under the mutex, with the entry built before taking it. */
	fresh = strata_malloc(sizeof(*fresh) + key_len);
	if (!fresh)
		return -ENOMEM;
	memcpy(fresh->key, key, key_len);
	fresh->k.p = fresh->key;
	fresh->k.len = (uint32_t)key_len;
	fresh->k.db = db;
	fresh->id = 0;
	fresh->type = type;
	fresh->refs = 1;
	fresh->published = false;
	rc = txn_grow((void **)&t->fields, &t->cap_fields, t->n_fields, sizeof(*t->fields));
	if (rc == 0)
		rc = ht_reserve(&t->own_fields, t->own_fields.n + 1);
	if (rc == 0)
		rc = field_reserve(t, &fresh, hd, &found_id, &found_type);
	if (rc)
		goto out;
check:
	if (found_type != type) {
		rc = type_conflict(found_type, type, out_type, measurement, m_len, name, name_len);
		goto out;
	}
	*out_id = found_id;
	if (out_type)
		*out_type = found_type;
out:
	strata_free(fresh);
	return rc;
}

int lsm_catalog_txn_commit(lsm_catalog_txn *t)
{
	lsm_catalog *c = t->c;
	size_t need = 0, len = 0, n_new_series = 0, n_new_fields = 0, n_pre = 0, n_alloc = 0;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	/* What this transaction holds that nobody has published yet. */
	for (size_t i = 0; i < t->n_series; i++) {
		struct pend_series *e = t->series[i];

		if (e->published)
			continue;
		if (!db_live(c, e->k.db)) {
			rc = strata_error(STRATA_ENOTFOUND, "database id %" PRIu32 " was dropped", e->k.db);
			goto out;
		}
		need += SERIES_REC_MAX(e->k.len);
		n_new_series++;
	}
	for (size_t i = 0; i < t->n_fields; i++) {
		struct pend_field *e = t->fields[i];

		if (e->published)
			continue;
		if (!db_live(c, e->k.db)) {
			rc = strata_error(STRATA_ENOTFOUND, "database id %" PRIu32 " was dropped", e->k.db);
			goto out;
		}
		need += FIELD_REC_MAX(e->k.len, 0);
		n_new_fields++;
	}
	if (n_new_series == 0 && n_new_fields == 0)
		goto out;
	if (c->sticky_rc) {
		rc = strata_error(STRATA_EREADONLY, "%s refuses changes after an earlier failure (%s)",
				  c->path, strata_strerror(c->sticky_rc));
		goto out;
	}
	if (need > t->buf_cap) {
		uint8_t *buf = strata_realloc(t->buf, need);

		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
		t->buf = buf;
		t->buf_cap = need;
	}
	if (n_new_series > t->cap_pre) {
		struct c_series **pre = strata_realloc(t->pre, n_new_series * sizeof(*pre));

		if (!pre) {
			rc = -ENOMEM;
			goto out;
		}
		t->pre = pre;
		t->cap_pre = n_new_series;
	}
	/* The published series structs, allocated outside the write lock. */
	for (size_t i = 0; i < t->n_series; i++) {
		struct pend_series *e = t->series[i];
		struct c_series *s;

		if (e->published)
			continue;
		s = NAMED_NEW(struct c_series, key, e->k.p, e->k.len);
		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		s->id = e->id;
		s->db = e->k.db;
		t->pre[n_alloc++] = s;
		len += enc_series(t->buf + len, e->k.db, e->id, e->k.p, e->k.len);
	}
	/* Fields after series: a reader of the log meets a series before its fields. */
	for (size_t i = 0; i < t->n_fields; i++) {
		struct pend_field *e = t->fields[i];

		if (!e->published)
			len += enc_field(t->buf + len, e->k.db, e);
	}
	rc = log_append(c, t->buf, len);
	if (rc)
		goto out;

	pthread_rwlock_wrlock(&c->rw);
	for (size_t i = 0; i < t->n_series && rc == 0; i++) {
		struct pend_series *e = t->series[i];
		struct c_series *s;
		bool owned;

		if (e->published)
			continue;
		s = t->pre[n_pre++];
		rc = pub_series(c, c->dbs[e->k.db], s, e->hash, &e->pk, &owned);
		if (!owned)
			strata_free(s);
		if (owned) {
			e->published = true;
			ht_remove(&c->pend_series, hash_db(e->hash, e->k.db), e->k.db, e->k.p, e->k.len);
			c->n_pending--;
			pending_done(c, e->k.db);
		}
	}
	for (size_t i = 0; i < t->n_fields && rc == 0; i++) {
		struct pend_field *e = t->fields[i];
		size_t m_len = (uint8_t)e->key[0];

		if (e->published)
			continue;
		rc = pub_field(c->dbs[e->k.db], e->key + 1, m_len, e->key + 1 + m_len, e->k.len - 1 - m_len,
			       e->id, e->type);
		if (rc == 0) {
			e->published = true;
			ht_remove(&c->pend_fields, hash_db(hash_bytes(e->k.p, e->k.len), e->k.db), e->k.db,
				  e->k.p, e->k.len);
		}
	}
	pthread_rwlock_unlock(&c->rw);
	if (rc) {
		/* Durable but not all in memory: refuse changes until reopened. */
		c->sticky_rc = rc;
		strata_error(rc, "%s: publishing a commit: %s", c->path, strata_strerror(rc));
	}
out:
	/* Structs not handed over (a failure before or during publishing). */
	for (size_t i = n_pre; i < n_alloc; i++)
		strata_free(t->pre[i]);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* ---- retention policies ---- */

static const lsm_catalog_rp autogen_rp = {
	.name = LSM_CATALOG_AUTOGEN, .duration_ns = 0, .shard_duration_ns = 0, .replica_n = 1, .is_default = true,
};

#define RP_REC_MAX                                                                                   \
	(LSM_RECORD_HEADER_LEN + LSM_VARINT32_MAX + 1 + 3 * LSM_VARINT64_MAX + LSM_VARINT64_MAX + \
	 LSM_CATALOG_NAME_MAX + LSM_VARINT32_MAX)


/* The store of policy rp of d (rps hold 0 for the database's own id). */
/* A policy's shard duration: 0 (the engine's window) or within the bounds. */
static bool shard_duration_ok(int64_t ns)
{
	return ns == 0 || (ns >= LSM_CATALOG_SHARD_MIN_NS && ns <= LSM_CATALOG_SHARD_MAX_NS);
}

static uint32_t rp_store(const struct c_db *d, const lsm_catalog_rp *rp)
{
	return rp->store ? rp->store : d->id;
}

/* The policies of d as readers see them (rw or mu held). */
static const lsm_catalog_rp *rps_view(const struct c_db *d, size_t *n)
{
	if (!d->rps_explicit) {
		*n = 1;
		return &autogen_rp;
	}
	*n = d->n_rps;
	return d->rps;
}

static const lsm_catalog_rp *rps_find(const struct c_db *d, const char *name)
{
	size_t n;
	const lsm_catalog_rp *v = rps_view(d, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* True when a policy of d (the implicit autogen included) keeps its points in store. */
static bool store_used(const struct c_db *d, uint32_t store)
{
	size_t n;
	const lsm_catalog_rp *v = rps_view(d, &n);

	for (size_t i = 0; i < n; i++)
		if (rp_store(d, &v[i]) == store)
			return true;
	return false;
}

/*
 * Applies one policy change to d (rw held exclusively, or a single thread
 * at open). Memory is reserved before anything changes, so -ENOMEM leaves
 * d as it was. 1 when the change breaks a rule (dropping a policy d does
 * not have, an initial policy of a database that has policies). A new
 * policy keeps its points in rp->store (0: d's own id; another store was
 * published before); an altered one keeps its store. A store left without
 * a policy forgets its series: their points are then unreachable, as a
 * dropped database's.
 */
static int rps_apply(lsm_catalog *c, struct c_db *d, const lsm_catalog_rp *rp, uint8_t flags)
{
	uint32_t store;
	size_t i;

	if (d->cap_rps < d->n_rps + 2) {
		uint32_t cap = d->cap_rps ? 2 * d->cap_rps : 4;
		lsm_catalog_rp *v = strata_realloc(d->rps, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->rps = v;
		d->cap_rps = cap;
	}
	if (d->cap_lengths < d->n_lengths + 1) {
		uint32_t cap = d->cap_lengths ? 2 * d->cap_lengths : 4;
		struct c_length *v = strata_realloc(d->lengths, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->lengths = v;
		d->cap_lengths = cap;
	}
	if (!d->rps_explicit) {
		if (!(flags & LSM_CATRP_INITIAL))
			d->rps[d->n_rps++] = autogen_rp;
		d->rps_explicit = true;
	} else if (flags & LSM_CATRP_INITIAL) {
		return 1;
	}
	for (i = 0; i < d->n_rps; i++)
		if (strcmp(d->rps[i].name, rp->name) == 0)
			break;
	if (flags & LSM_CATRP_DROPPED) {
		if (i == d->n_rps)
			return 1;
		store = rp_store(d, &d->rps[i]);
		memmove(d->rps + i, d->rps + i + 1, (d->n_rps - i - 1) * sizeof(*d->rps));
		d->n_rps--;
		if (!store_used(d, store)) {
			if (store == d->id) {
				/* Never used again: a write racing the drop must not reappear under a new policy. */
				store_forget(c, d);
				d->own_retired = true;
			} else if (db_live(c, store)) {
				store_drop(c, c->dbs[store]);
			}
		}
		return 0;
	}
	store = rp->store == d->id ? 0 : rp->store;
	if (i == d->n_rps)
		d->n_rps++;
	else
		store = d->rps[i].store;
	d->rps[i] = *rp;
	d->rps[i].store = store;
	d->rps[i].is_default = (flags & LSM_CATRP_DEFAULT) != 0;
	if (flags & LSM_CATRP_DEFAULT)
		for (size_t j = 0; j < d->n_rps; j++)
			if (j != i)
				d->rps[j].is_default = false;
	if (rp->shard_duration_ns > 0) {
		struct c_length seen = { .store = rp_store(d, &d->rps[i]), .window_ns = rp->shard_duration_ns };
		uint32_t k;

		for (k = 0; k < d->n_lengths; k++)
			if (d->lengths[k].store == seen.store && d->lengths[k].window_ns == seen.window_ns)
				break;
		if (k == d->n_lengths)
			d->lengths[d->n_lengths++] = seen; /* room reserved above */
	}
	return 0;
}

/* flags holds LSM_CATRP_STORE when rp->store is a store of its own, written last. */
static size_t enc_rp(uint8_t *out, uint32_t db, const lsm_catalog_rp *rp, uint8_t flags)
{
	uint8_t *p = out + LSM_RECORD_HEADER_LEN;

	p += lsm_put_varint64(p, db);
	*p++ = flags;
	p += lsm_put_varint64(p, (uint64_t)rp->duration_ns);
	p += lsm_put_varint64(p, (uint64_t)rp->shard_duration_ns);
	p += lsm_put_varint64(p, rp->replica_n);
	p += put_bytes(p, rp->name, strlen(rp->name));
	if (flags & LSM_CATRP_STORE)
		p += lsm_put_varint64(p, rp->store);
	return frame(out, LSM_CATREC_RP, (size_t)(p - out) - LSM_RECORD_HEADER_LEN);
}

/*
 * Publishes store id for a new policy of d (rw held exclusively, or one
 * thread at open). It starts empty; until a policy uses it, it is unused.
 */
static int store_new(lsm_catalog *c, struct c_db *d, const char *rp_name, uint32_t id)
{
	struct c_db *s = NAMED_NEW(struct c_db, name, rp_name, strlen(rp_name));
	int rc;

	if (!s)
		return -ENOMEM;
	s->id = id;
	s->parent = d->id;
	s->next_field_id = 1;
	rc = pub_db(c, s);
	if (rc)
		strata_free(s);
	else if (id >= c->next_db_id)
		c->next_db_id = id + 1;
	return rc;
}

/* Replays an LSM_CATREC_RP record (replay_record's contract; *what set for a broken rule). */
static int rp_replay(lsm_catalog *c, struct rd *r, const char **what)
{
	uint32_t db = (uint32_t)rd_varint(r, UINT32_MAX);
	uint8_t flags = 0;
	lsm_catalog_rp rp = { 0 };
	const char *name;
	size_t n_len;
	struct c_db *d;
	int rc;

	if (!r->bad && r->p < r->end)
		flags = *r->p++;
	else
		r->bad = true;
	rp.duration_ns = (int64_t)rd_varint(r, INT64_MAX);
	rp.shard_duration_ns = (int64_t)rd_varint(r, INT64_MAX);
	rp.replica_n = (uint32_t)rd_varint(r, UINT32_MAX);
	name = rd_bytes(r, &n_len, LSM_CATALOG_NAME_MAX);
	if (flags & LSM_CATRP_STORE)
		rp.store = (uint32_t)rd_varint(r, UINT32_MAX);
	if (r->bad || r->p != r->end || n_len == 0) {
		*what = "malformed retention policy record";
		return 0;
	}
	if (!(flags & LSM_CATRP_DROPPED) && !shard_duration_ok(rp.shard_duration_ns)) {
		*what = "retention policy record with a shard duration out of bounds";
		return 0;
	}
	if ((flags & ~(LSM_CATRP_DEFAULT | LSM_CATRP_DROPPED | LSM_CATRP_INITIAL | LSM_CATRP_STORE)) ||
	    ((flags & LSM_CATRP_DROPPED) && (flags & (LSM_CATRP_DEFAULT | LSM_CATRP_INITIAL | LSM_CATRP_STORE))) ||
	    ((flags & LSM_CATRP_INITIAL) && (flags & LSM_CATRP_STORE)) ||
	    (!(flags & LSM_CATRP_DROPPED) && rp.replica_n == 0) || memchr(name, 0, n_len)) {
		*what = "retention policy record with bad flags, replica count or name";
		return 0;
	}
	memcpy(rp.name, name, n_len);
	d = db_top(c, db);
	if (!d) {
		*what = "retention policy of an unknown database";
		return 0;
	}
	if (flags & LSM_CATRP_STORE) {
		if (rp.store <= db || (rp.store < c->n_dbs && c->dbs[rp.store]) ||
		    (rp.store >= c->next_db_id && rp.store - c->next_db_id > DB_ID_GAP_MAX) || rps_find(d, rp.name)) {
			*what = "retention policy store id not past its database's, used twice or far past every id, or of an "
				"existing policy";
			return 0;
		}
		rc = store_new(c, d, rp.name, rp.store);
		if (rc)
			return rc;
	}
	rc = rps_apply(c, d, &rp, flags);
	if (rc == 1) {
		*what = (flags & LSM_CATRP_DROPPED) ? "drop of an unknown retention policy"
						    : "initial retention policy of a database that has policies";
		rc = 0;
	}
	return rc;
}

/*
 * Shard durations are not compared: a CREATE repeated without SHARD
 * DURATION (as agents do at each start) must not fail on a policy created
 * with another one, or before shard durations counted.
 */
static bool rp_same(const lsm_catalog_rp *a, const lsm_catalog_rp *b)
{
	return a->duration_ns == b->duration_ns && a->replica_n == b->replica_n;
}

/*
 * Writes one policy record and applies it to d (mu held). A new policy
 * (LSM_CATRP_STORE in flags) gets a store of its own, the next id.
 */
static int rp_commit(lsm_catalog *c, struct c_db *d, const lsm_catalog_rp *rp, uint8_t flags)
{
	uint8_t rec[RP_REC_MAX];
	lsm_catalog_rp with = *rp;
	size_t n;
	int rc;

	with.store = 0;
	if (flags & LSM_CATRP_STORE) {
		if (c->next_db_id == UINT32_MAX)
			return strata_error(STRATA_ETOOBIG, "%s: no store ids left", c->path);
		with.store = c->next_db_id;
	}
	n = enc_rp(rec, d->id, &with, flags);
	rc = log_append(c, rec, n);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&c->rw);
	if (flags & LSM_CATRP_STORE)
		rc = store_new(c, d, with.name, with.store);
	if (rc == 0)
		rc = rps_apply(c, d, &with, flags);
	pthread_rwlock_unlock(&c->rw);
	if (rc) {
		/* Durable but not in memory (only -ENOMEM: the rules were checked): refuse changes until reopened. */
		c->sticky_rc = rc;
	}
	return rc;
}

int lsm_catalog_set_rp(lsm_catalog *c, uint32_t db, const lsm_catalog_rp *rp, enum lsm_catalog_rp_op op)
{
	size_t len = strnlen(rp->name, sizeof rp->name);
	const lsm_catalog_rp *have;
	uint8_t flags = rp->is_default ? LSM_CATRP_DEFAULT : 0;
	struct c_db *d;
	int rc;

	if (len == sizeof rp->name)
		return strata_error(STRATA_EINVAL, "retention policy name over the %d byte limit", LSM_CATALOG_NAME_MAX);
	rc = check_name("retention policy name", len);
	if (rc)
		return rc == STRATA_ETOOBIG ? STRATA_EINVAL : rc;
	if (rp->duration_ns < 0 || rp->shard_duration_ns < 0)
		return strata_error(STRATA_EINVAL, "retention policy %s: negative duration", rp->name);
	if (!shard_duration_ok(rp->shard_duration_ns))
		return strata_error(STRATA_EINVAL, "retention policy %s: shard duration out of 1h .. 8760h", rp->name);
	if (rp->replica_n < 1)
		return strata_error(STRATA_EINVAL, "replication factor must be greater than 0");
	pthread_mutex_lock(&c->mu);
	d = db_top(c, db);
	if (!d) {
		rc = db_not_found(db);
		goto out;
	}
	have = rps_find(d, rp->name);
	switch (op) {
	case LSM_CATALOG_RP_INITIAL:
		if (!d->rps_explicit) {
			flags = LSM_CATRP_DEFAULT | LSM_CATRP_INITIAL;
			break;
		}
		if (!have || !have->is_default || !rp_same(have, rp)) {
			rc = strata_error(STRATA_EINVAL, "retention policy conflicts with an existing policy");
			goto out;
		}
		goto out; /* the same policy: nothing to write */
	case LSM_CATALOG_RP_CREATE:
		if (!have) {
			/* The database's own store while no policy has used it, else one of its own. */
			if (store_used(d, d->id) || d->own_retired)
				flags |= LSM_CATRP_STORE;
			break;
		}
		if (!rp_same(have, rp))
			rc = strata_error(STRATA_EINVAL, "retention policy already exists");
		else if (rp->is_default && !have->is_default)
			rc = strata_error(STRATA_EINVAL, "retention policy conflicts with an existing policy");
		goto out;
	case LSM_CATALOG_RP_ALTER:
		if (!have) {
			rc = strata_error(STRATA_ENOTFOUND, "retention policy not found: %s", rp->name);
			goto out;
		}
		break;
	default:
		rc = strata_error(STRATA_EINVAL, "unknown retention policy operation %d", (int)op);
		goto out;
	}
	rc = rp_commit(c, d, rp, flags);
	if (rc == 0)
		LOG_INFO("event=retention_policy_set database=%s name=%s duration_ns=%" PRId64 " default=%d",
			 d->name, rp->name, rp->duration_ns, (flags & LSM_CATRP_DEFAULT) != 0);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int lsm_catalog_drop_rp(lsm_catalog *c, uint32_t db, const char *name)
{
	lsm_catalog_rp rp = { 0 };
	size_t len = strlen(name);
	struct c_db *d;
	int rc = 0;

	if (len == 0 || len > LSM_CATALOG_NAME_MAX)
		return strata_error(STRATA_ENOTFOUND, "retention policy not found: %s", name);
	memcpy(rp.name, name, len);
	pthread_mutex_lock(&c->mu);
	d = db_top(c, db);
	if (!d)
		rc = db_not_found(db);
	else if (!rps_find(d, name))
		rc = strata_error(STRATA_ENOTFOUND, "retention policy not found: %s", name);
	else
		rc = rp_commit(c, d, &rp, LSM_CATRP_DROPPED);
	if (rc == 0) {
		LOG_INFO("event=retention_policy_dropped database=%s name=%s", d->name, name);
		atomic_fetch_add(&c->generation, 1); /* its series are forgotten */
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int lsm_catalog_rps(lsm_catalog *c, uint32_t db, lsm_catalog_rp **out, size_t *n_out)
{
	const lsm_catalog_rp *v;
	struct c_db *d;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&c->rw);
	d = db_top(c, db);
	if (!d) {
		rc = STRATA_ENOTFOUND;
	} else {
		v = rps_view(d, &n);
		if (n) {
			*out = strata_malloc(n * sizeof(**out));
			if (*out) {
				memcpy(*out, v, n * sizeof(**out));
				for (size_t i = 0; i < n; i++)
					(*out)[i].store = rp_store(d, &v[i]);
				*n_out = n;
			} else {
				rc = -ENOMEM;
			}
		}
	}
	pthread_rwlock_unlock(&c->rw);
	return rc == STRATA_ENOTFOUND ? db_not_found(db) : rc;
}

int lsm_catalog_rp_get(lsm_catalog *c, uint32_t db, const char *name, lsm_catalog_rp *out)
{
	const lsm_catalog_rp *rp = NULL;
	struct c_db *d;

	pthread_rwlock_rdlock(&c->rw);
	d = db_top(c, db);
	if (d)
		rp = rps_find(d, name);
	if (rp) {
		*out = *rp;
		out->store = rp_store(d, rp);
	}
	pthread_rwlock_unlock(&c->rw);
	if (!d)
		return db_not_found(db);
	if (!rp)
		return strata_error(STRATA_ENOTFOUND, "retention policy not found: %s", name);
	return 0;
}

/* The retention of store id (rw held): see lsm_catalog_retention. */
static int64_t store_retention(lsm_catalog *c, const struct c_db *s)
{
	const struct c_db *d = s->parent ? c->dbs[s->parent] : s;
	const lsm_catalog_rp *v;
	int64_t longest = 0;
	size_t n;

	v = rps_view(d, &n);
	for (size_t i = 0; i < n; i++) {
		if (rp_store(d, &v[i]) != s->id)
			continue;
		if (v[i].duration_ns == 0)
			return 0;
		if (v[i].duration_ns > longest)
			longest = v[i].duration_ns;
	}
	return longest;
}

/* The shortest shard duration recorded by the policies that use store s; 0 when none records one (rw held). */
static int64_t store_window(lsm_catalog *c, const struct c_db *s)
{
	const struct c_db *d = s->parent ? c->dbs[s->parent] : s;
	const lsm_catalog_rp *v;
	int64_t shortest = 0;
	size_t n;

	v = rps_view(d, &n);
	for (size_t i = 0; i < n; i++)
		if (rp_store(d, &v[i]) == s->id && v[i].shard_duration_ns > 0 &&
		    (shortest == 0 || v[i].shard_duration_ns < shortest))
			shortest = v[i].shard_duration_ns;
	return shortest;
}

int lsm_catalog_window(lsm_catalog *c, uint32_t store, int64_t *out)
{
	struct c_db *s;

	pthread_rwlock_rdlock(&c->rw);
	s = db_live(c, store);
	if (s)
		*out = store_window(c, s);
	pthread_rwlock_unlock(&c->rw);
	return s ? 0 : db_not_found(store);
}

int64_t lsm_catalog_series_window(lsm_catalog *c, uint64_t id)
{
	struct c_series *se;
	struct c_db *s = NULL;
	int64_t window_ns = 0;

	pthread_rwlock_rdlock(&c->rw);
	se = id < c->by_id_cap ? c->by_id[id] : NULL;
	if (se)
		s = db_live(c, se->db);
	if (s)
		window_ns = store_window(c, s);
	pthread_rwlock_unlock(&c->rw);
	return window_ns;
}

void lsm_catalog_windows_attach(lsm_catalog_windows *w, lsm_catalog *c)
{
	atomic_store_explicit(&w->catalog, c, memory_order_release);
}

int64_t lsm_catalog_windows_hook(void *ctx, uint64_t series_id)
{
	lsm_catalog_windows *w = ctx;
	lsm_catalog *c = atomic_load_explicit(&w->catalog, memory_order_acquire);

	return c ? lsm_catalog_series_window(c, series_id) : 0;
}

int lsm_catalog_retention(lsm_catalog *c, uint32_t store, int64_t *out)
{
	struct c_db *s;

	pthread_rwlock_rdlock(&c->rw);
	s = db_live(c, store);
	if (s)
		*out = store_retention(c, s);
	pthread_rwlock_unlock(&c->rw);
	return s ? 0 : db_not_found(store);
}

int64_t lsm_catalog_retention_horizon(lsm_catalog *c)
{
	int64_t longest = 0;
	bool any = false, forever = false;

	/* Only stores a policy uses hold points or receive them (lsm_catalog_store). */
	pthread_rwlock_rdlock(&c->rw);
	for (uint32_t i = 1; i < c->n_dbs && !forever; i++) {
		struct c_db *d = db_top(c, i);
		const lsm_catalog_rp *v;
		size_t n;

		if (!d)
			continue;
		v = rps_view(d, &n);
		for (size_t k = 0; k < n; k++) {
			any = true;
			if (v[k].duration_ns == 0)
				forever = true;
			else if (v[k].duration_ns > longest)
				longest = v[k].duration_ns;
		}
	}
	pthread_rwlock_unlock(&c->rw);
	return any && !forever ? longest : 0;
}

int lsm_catalog_window_horizon(lsm_catalog *c, int64_t window_ns, int64_t *out)
{
	int64_t longest = 0;
	bool any = false, forever = false;

	pthread_rwlock_rdlock(&c->rw);
	for (uint32_t i = 1; i < c->n_dbs && !forever; i++) {
		struct c_db *d = db_top(c, i), *s;

		if (!d)
			continue;
		for (uint32_t k = 0; k < d->n_lengths && !forever; k++) {
			int64_t keep;

			/* A store no policy uses any more holds nothing reachable. */
			if (d->lengths[k].window_ns != window_ns || !store_used(d, d->lengths[k].store) ||
			    !(s = db_live(c, d->lengths[k].store)))
				continue;
			any = true;
			keep = store_retention(c, s);
			if (keep == 0)
				forever = true;
			else if (keep > longest)
				longest = keep;
		}
	}
	pthread_rwlock_unlock(&c->rw);
	*out = forever ? 0 : longest;
	return any ? 1 : 0;
}

int lsm_catalog_store(lsm_catalog *c, uint32_t db, const char *rp, uint32_t *out)
{
	const lsm_catalog_rp *v, *found = NULL;
	struct c_db *d;
	size_t n;
	int rc = 0;

	pthread_rwlock_rdlock(&c->rw);
	d = db_top(c, db);
	if (!d) {
		rc = db_not_found(db);
	} else if (rp && *rp) {
		found = rps_find(d, rp);
		if (!found)
			rc = strata_error(STRATA_ENOTFOUND, "retention policy not found: %s", rp);
	} else {
		v = rps_view(d, &n);
		for (size_t i = 0; i < n && !found; i++)
			if (v[i].is_default)
				found = &v[i];
		if (!found)
			rc = strata_error(STRATA_ENOTFOUND, "retention policy not found: database \"%s\" has no default policy",
					  d->name);
	}
	if (found)
		*out = rp_store(d, found);
	pthread_rwlock_unlock(&c->rw);
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int lsm_catalog_stores(lsm_catalog *c, uint32_t db, uint32_t **out, size_t *n_out)
{
	lsm_catalog_rp *rps = NULL;
	size_t n = 0, w = 0;
	uint32_t *ids;
	int rc = lsm_catalog_rps(c, db, &rps, &n);

	*out = NULL;
	*n_out = 0;
	if (rc)
		return rc;
	ids = strata_malloc((n + 1) * sizeof(*ids));
	if (!ids) {
		strata_free(rps);
		return -ENOMEM;
	}
	ids[0] = db;
	for (size_t i = 0; i < n; i++)
		ids[i + 1] = rps[i].store;
	strata_free(rps);
	qsort(ids + 1, n, sizeof(*ids), cmp_u32);
	/* The database's id is the smallest of its stores: ascending with it first. */
	for (size_t i = 1; i <= n; i++)
		if (ids[i] != ids[w])
			ids[++w] = ids[i];
	*out = ids;
	*n_out = w + 1;
	return 0;
}

int lsm_catalog_series_db(lsm_catalog *c, uint64_t id, uint32_t *out)
{
	struct c_series *s;

	pthread_rwlock_rdlock(&c->rw);
	s = id < c->by_id_cap ? c->by_id[id] : NULL;
	if (s)
		*out = s->db;
	pthread_rwlock_unlock(&c->rw);
	return s ? 0 : STRATA_ENOTFOUND;
}
