/* bslab, the lab CLI (docs/bslab.1): what the verb files share.  Exit status:
 * 0 success, 1 a check or an operation failed (a BS_E* result), 2 usage or
 * environment error. */
#ifndef BSLAB_H
#define BSLAB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backstore.h"
#include "lab/lab.h"

#define BSLAB_OK 0
#define BSLAB_FAILED 1 /* a check failed or an operation returned a BS_E* code */
#define BSLAB_USAGE 2  /* bad usage, or the environment is not as needed */
/* SIGINT stopped the verb after it reported what it did: main() ends the
 * process by that signal (so a calling shell stops too), else exits 130. */
#define BSLAB_INTERRUPTED 130

/* Options a verb may accept (bslab_args.allowed). */
enum {
  BO_BACKEND = 1u << 0,
  BO_PROFILE = 1u << 1,
  BO_IMAGE = 1u << 2,
  BO_SEED = 1u << 3,
  BO_FORMAT = 1u << 4,
  BO_ROOT = 1u << 5,
  BO_SEEDS = 1u << 6,
  BO_OPS = 1u << 7,
  BO_SIM_BUG = 1u << 8,
  BO_DIGEST = 1u << 9,
  BO_QUIET = 1u << 10,
  BO_JOBS = 1u << 11,
  BO_FAULTS = 1u << 12,
  BO_TRACE = 1u << 13,
  BO_COPY_SNAPSHOTS = 1u << 14,
  BO_OUTPUT = 1u << 15,     /* -o/--output FILE */
  BO_MAX_TESTS = 1u << 16,
  BO_TRACE_DIR = 1u << 17,
  BO_JSON = 1u << 18,
  BO_TRACE_ALL = 1u << 19,
  BO_WAIT = 1u << 20, /* --wait SECONDS: for another writer's image lock */
  BO_SYMBOLIC = 1u << 21, /* -s/--symbolic: ln makes a symlink */
  BO_SHARD = 1u << 22, /* --shard I/N: the I-th of N slices of the seeds */
  BO_KIND = 1u << 23, /* --kind auto|native|overlay: branch create */
  BO_FOREGROUND = 1u << 24, /* mount: --foreground, serve without detaching */
  BO_REAP = 1u << 25,       /* mount: --reap, remove mounts of killed servers */
  BO_DIRECT_IO = 1u << 26,  /* mount: --direct-io, no page cache */
  BO_POWER_AFTER = 1u << 27, /* mount: --power-loss-after N changes */
  BO_POWER_MODE = 1u << 28,  /* mount: --power-loss drop|tear */
  BO_FS = 1u << 29,      /* ramdisk create --fs FS */
  BO_SIZE_MB = 1u << 30, /* ramdisk create --size-mb N */
  BO_LABEL = 1u << 31,   /* ramdisk create --label L */
  /* What every verb that works on a volume accepts. */
  BO_VOLUME = BO_BACKEND | BO_PROFILE | BO_IMAGE | BO_SEED | BO_ROOT | BO_COPY_SNAPSHOTS | BO_WAIT,
};
/* Options past bit 31 (the enum's constants must fit an int): option sets
 * are uint64_t. */
#define BO_MIX (1ull << 32) /* campaign --mix default|overlay */
#define BO_BRANCH (1ull << 33) /* snapshot create --branch BRANCH */
#define BO_LOWER_DIR (1ull << 34) /* branch create --lower-dir DIR: a host lower */

/* Most shards of one campaign (--shard I/N, bslab merge). */
#define BSLAB_SHARDS_MAX 65536u

/* The longest --wait (and $BSLAB_WAIT), in seconds: a day. */
#define BSLAB_WAIT_MAX 86400u

/* Parsed command line of one verb.  Global options given before the verb are
 * the defaults the verb's own options override. */
typedef struct bslab_args {
  const char *verb; /* "snapshot create": for messages */
  const char *backend, *profile, *image, *format, *root, *sim_bug, *faults, *trace;
  const char *mix; /* campaign --mix */
  const char *output, *trace_dir, *json;
  const char *kind; /* --kind of branch create (NULL: native) */
  const char *branch; /* --branch of snapshot create (NULL: the main tree) */
  const char *lower_dir; /* --lower-dir of branch create: a host directory as the lower */
  const char *fs, *label; /* ramdisk create */
  uint64_t size_mb;
  bool size_mb_set;
  uint64_t seed, seeds, ops, jobs, max_tests, wait;
  bool trace_all;
  bool seed_set, seeds_set, ops_set, jobs_set, wait_set, shard_set;
  uint32_t shard_index, shard_count; /* --shard I/N: 0 <= I < N */
  bool digest, quiet, help;
  bool copy_snapshots; /* --copy-snapshots: BS_OPEN_SNAPSHOT_COPY */
  bool symbolic;       /* ln -s */
  bool foreground, reap, direct_io; /* mount: --foreground, --reap, --direct-io */
  const char *power_mode;           /* mount: --power-loss drop|tear */
  uint64_t power_after;             /* mount: --power-loss-after N */
  bool power_after_set;
  uint64_t given; /* BO_* options given, before or after the verb */
  int npos;
  char **pos; /* positional arguments (point into argv) */
} bslab_args;

/* A verb: runs with parsed arguments, returns an exit status. */
typedef struct bslab_verb {
  const char *name;
  const char *usage;  /* the synopsis and option list printed by --help */
  uint64_t allowed;   /* BO_* options it takes */
  int min_pos, max_pos;
  int (*run)(bslab_args *a);
} bslab_verb;

/* args.c */
/* Parse @argv (verb arguments) into @a; 0, or BSLAB_USAGE after a message. */
int bslab_parse(bslab_args *a, int argc, char **argv, uint64_t allowed);
/* Parse the global options before the verb; *@verb_index gets the verb's
 * index in @argv (@argc if none).  0 or BSLAB_USAGE. */
int bslab_parse_global(bslab_args *a, int argc, char **argv, int *verb_index);
/* Parse an unsigned decimal number; false if @s is not one. */
bool bslab_parse_u64(const char *s, uint64_t *out);
/* Where a verb writes the traces it was not told to write elsewhere:
 * --trace-dir, else $BSLAB_TRACE_DIR, else ./bslab-traces (made only when
 * a trace is written). */
const char *bslab_trace_dir(const bslab_args *a);
/* "bslab: VERB: message" on stderr and the hint to --help; returns BSLAB_USAGE. */
int bslab_usage_error(const bslab_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* out.c */
/* "bslab: VERB: message" on stderr, without the newline: the start every
 * error line shares, whatever follows it. */
void bslab_vmessage(const bslab_args *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* "bslab: VERB: SUBJECT: message (NAME)[; detail]" on stderr; returns BSLAB_FAILED. */
int bslab_op_error(const bslab_args *a, const char *subject, int rc, bs_store *st);
/* The same with the detail given (not bs_last_message()). */
int bslab_op_error_detail(const bslab_args *a, const char *subject, int rc, const char *detail);
/* "bslab: VERB: message" on stderr; returns BSLAB_USAGE. */
int bslab_env_error(const bslab_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write @s for a line of text: control characters (and bytes that are not
 * UTF-8) as \xHH escapes (bs_text_escape(), docs/names.md). */
void bslab_text(FILE *f, const char *s);
/* Write @s as a JSON string literal. */
void bslab_json_str(FILE *f, const char *s);
/* Write @n bytes as lowercase hex. */
void bslab_hex(FILE *f, const uint8_t *p, size_t n);
/* Write raw bytes to stdout; false (after a message with the reason, the
 * first time) on a write error. */
bool bslab_write_raw(const bslab_args *a, const void *p, size_t n);
/* Flush @f and close it (stdout is only flushed); 0, or the errno of the
 * write or close that failed (EIO when the C library kept none). */
int bslab_close_file(FILE *f);
/* At exit: flush and close stdout; 0, or BSLAB_USAGE after "bslab: write
 * error: REASON" (unless bslab_write_raw() reported the failure). */
int bslab_close_stdout(void);
/* Check @format is one of the NULL-terminated @allowed; 0 or BSLAB_USAGE. */
int bslab_check_format(const bslab_args *a, const char *const *allowed);
/* Format a UUID as 8-4-4-4-12 lowercase hex into @buf (37 bytes). */
void bslab_uuid_str(char *buf, const uint8_t uuid[16]);

/* lock.c: the image lock of the verbs that change a sim image. */
typedef struct bslab_image_lock {
  int fd;            /* the locked IMAGE.lock, or -1 */
  char path[4200];   /* IMAGE.lock */
} bslab_image_lock;
/* Lock @image for a load-modify-save (an exclusive flock on IMAGE.lock,
 * recording this process), waiting --wait / $BSLAB_WAIT seconds for another
 * holder.  0; BSLAB_FAILED (BUSY, naming the holder) or BSLAB_USAGE, after a
 * message (@l then holds nothing). */
int bslab_lock_image(bslab_image_lock *l, const bslab_args *a, const char *image);
/* Record this process as the holder again (after a fork kept the lock:
 * bslab mount going to the background); failing to is no error. */
void bslab_lock_record(bslab_image_lock *l, const bslab_args *a);
/* Release the lock (and remove IMAGE.lock); nothing if @l holds none. */
void bslab_unlock_image(bslab_image_lock *l);

/* A file a verb writes for the user (--trace FILE, a trace, --json FILE):
 * "-" is standard output; a path is a bs_lab_file, so the file is replaced
 * whole when the verb commits it, and left as it was otherwise. */
typedef struct bslab_out {
  FILE *f; /* write here */
  bs_lab_file lf;
  bool file; /* lf is in use (not standard output) */
} bslab_out;
/* Open @path ("-": stdout) for @what ("trace"); 0, or BSLAB_USAGE after a message. */
int bslab_out_open(bslab_out *o, const bslab_args *a, const char *path, const char *what);
/* Commit (@keep) or abandon @o; 0, or BSLAB_USAGE after a message. */
int bslab_out_close(bslab_out *o, const bslab_args *a, bool keep);
/* Write @len bytes to host file @path whole (through bslab_out); false
 * after a message. */
bool bslab_write_file(const bslab_args *a, const char *path, const void *buf, size_t len,
                      const char *what);

/* volume.c: the store a verb works on, from the image file for the sim. */
typedef struct bslab_vol {
  bs_store *st;
  const char *image; /* NULL when not image-backed */
  bool created;      /* the image did not exist; this volume is new */
  bool committed;    /* bslab_vol_commit() ran: nothing left to save */
  bool locked;       /* @lock is held (a mutating verb on an image) */
  bslab_image_lock lock;
} bslab_vol;
/* Open the volume.  @mutating verbs lock the image (until
 * bslab_vol_finish()) and create a missing one; others need it to exist and
 * take no lock.  0, or BSLAB_FAILED / BSLAB_USAGE after a message. */
int bslab_vol_open(bslab_vol *v, const bslab_args *a, bool mutating);
/* Make the verb's change durable: save the image (if any; the save fsyncs
 * it and its directory).  A verb prints its success only after this.
 * 0, or BSLAB_USAGE after a message (the image is then as it was). */
int bslab_vol_commit(bslab_vol *v, const bslab_args *a);
/* Save the image (if any, and not yet committed) when @changed (a new volume
 * whose verb failed is not saved); then close and unlock.
 * Returns @status, or BSLAB_USAGE if saving failed. */
int bslab_vol_finish(bslab_vol *v, const bslab_args *a, bool changed, int status);
/* Check that every backend @name names exists ("faults:bogus": no 'bogus');
 * 0, or BSLAB_USAGE after an "unknown backend" message. */
int bslab_check_backend_name(const bslab_args *a, const char *name);
/* Open a fresh store (no image) of --backend/--profile, for caps. */
int bslab_open_fresh(bs_store **out, const bslab_args *a);
/* Turn --backend sim:PROFILE into --backend sim --profile PROFILE, as
 * bs_open() reads it; a different --profile is a usage error.  0 or
 * BSLAB_USAGE after a message. */
int bslab_split_backend(bslab_args *a);
/* True if @name is a sim profile. */
bool bslab_is_profile(const char *name);

/* The verbs. */
int bslab_caps(bslab_args *a);
int bslab_probe(bslab_args *a);
int bslab_init(bslab_args *a);
int bslab_clone(bslab_args *a);
int bslab_put(bslab_args *a);
int bslab_cat(bslab_args *a);
int bslab_ls(bslab_args *a);
int bslab_stat(bslab_args *a);
int bslab_usage_verb(bslab_args *a);
int bslab_mkdir(bslab_args *a);
int bslab_rm(bslab_args *a);
int bslab_ln(bslab_args *a);
int bslab_readlink(bslab_args *a);
int bslab_snapshot(bslab_args *a);
int bslab_branch(bslab_args *a);
int bslab_campaign(bslab_args *a);
/* campaign.c: the command line that reruns seed @seed of campaign @o alone
 * ("bslab campaign --profile apfs --seed 7 --ops 2000 ..."), cut to @cap. */
void bslab_campaign_reproduce(char *buf, size_t cap, const bs_campaign_opts *o, uint64_t seed);
int bslab_faults(bslab_args *a);
/* campaign.c: shard @index of @count of @seeds seeds: the offset of its
 * first seed in *@from, its number of seeds in *@n. */
void bslab_shard_slice(uint32_t seeds, uint32_t index, uint32_t count, uint64_t *from, uint32_t *n);

/* A campaign's JSON summary (docs/campaign.md): of a whole campaign, or of
 * one shard of it (bslab campaign --shard), or merged from shards (bslab
 * merge: then the same bytes as the whole campaign's, but for its last line,
 * the run's jobs and timing). */
typedef struct bslab_report {
  const bs_campaign_opts *o;   /* backend, profile, faults, sim_bug, ops; the seeds run */
  uint64_t first_seed;         /* the whole campaign's seeds */
  uint32_t seeds;
  uint32_t shard_index, shard_count; /* shard_count 0: not a shard */
  const bs_campaign_summary *s;
  const uint64_t *digest_seed, *digest; /* the digest of every seed that finished, in seed order */
  size_t n_digests;
} bslab_report;

/* campaign_json.c: the summary as JSON to @f. */
void bslab_report_write(FILE *f, const bslab_report *r);
/* Write --json FILE; 0 or BSLAB_USAGE after a message. */
int bslab_campaign_json(const bslab_args *a, const bslab_report *r);
/* merge.c: bslab merge SHARD.json... */
int bslab_merge(bslab_args *a);
int bslab_replay(bslab_args *a);
int bslab_shrink(bslab_args *a);
int bslab_diff(bslab_args *a);
int bslab_calibrate(bslab_args *a);
int bslab_mount(bslab_args *a);
int bslab_power_loss(bslab_args *a);

/* main.c: look up a verb by name (NULL if unknown). */
const bslab_verb *bslab_find_verb(const char *name);

/* ramdisk.c */
int bslab_ramdisk(bslab_args *a);

#endif
