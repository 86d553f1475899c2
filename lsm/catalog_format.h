/*
 * catalog_format.h — the constants of the catalog log (docs/format-catalog.md).
 *
 * The catalog log is a record file in the framing of record.h. Its record
 * types start at 16 so that they never clash with record.h's own (file
 * header, WAL batch, version edit): a catalog record found in another file,
 * or the reverse, is reported as damage, not misread.
 */
#ifndef STRATA_LSM_CATALOG_FORMAT_H
#define STRATA_LSM_CATALOG_FORMAT_H

#define LSM_CATALOG_FILE "catalog.log"
#define LSM_CATALOG_TMP_FILE "catalog.log.tmp"
#define LSM_CATALOG_MAGIC "STRATACT"
#define LSM_CATALOG_VERSION 1

enum lsm_catalog_record_type {
	LSM_CATREC_DB_CREATE = 16, /* db id varint, name length varint, name */
	LSM_CATREC_DB_DROP = 17,   /* db id varint */
	LSM_CATREC_SERIES = 18,    /* db id varint, series id varint, key length varint, key */
	LSM_CATREC_FIELD = 19,     /* db id varint, field id varint, type u8,
				    * measurement length varint, measurement,
				    * name length varint, name */
	LSM_CATREC_RP = 20,          /* db id varint, flags u8, duration varint,
				      * shard duration varint, replica n varint,
				      * name length varint, name
				      * [, store id varint: flag LSM_CATRP_STORE] */
	LSM_CATREC_SERIES_DROP = 21, /* db id varint, series id varint */
};

/* Flags of an LSM_CATREC_RP record. */
enum lsm_catalog_rp_flags {
	LSM_CATRP_DEFAULT = 1, /* the database's default policy from now on */
	LSM_CATRP_DROPPED = 2, /* the policy of that name is dropped */
	LSM_CATRP_INITIAL = 4, /* the database's first policy, in place of the implicit autogen */
	LSM_CATRP_STORE = 8,   /* a new policy with a store of its own: its id, a varint, ends the record */
};

#endif
