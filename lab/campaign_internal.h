/* Internals of the campaign engine (lab/lab.h), shared by
 * lab/campaign*.c only: the reference model, the operation record and the
 * per-seed run state.  docs/campaign.md describes the behaviour. */
#ifndef BS_CAMPAIGN_INTERNAL_H
#define BS_CAMPAIGN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/lab.h"
#include "src/rng.h"

#define CM_BLOCK 4096u           /* crash checks compare blocks of this size */
#define CM_FILE_MAX (64u * 1024u) /* no operation makes a file larger */
#define CM_PATH 96               /* longest path the model stores */
#define CM_LONG 320              /* longest path an operation carries */
#define CM_XATTRS 4              /* xattr names: user.bs0 .. user.bs3 */
#define CM_XATTR_LEN 24          /* longest xattr value */
#define CM_XATTR_UNSET 0xff      /* xlen of an absent xattr */
#define CM_SNAPS 4               /* snapshot names s0 .. s3 */
#define CM_BRANCHES 3            /* branch names b0 .. b2 */
#define CM_DIRS 3                /* directory names d0 .. d2 under a tree root */
#define CM_FILES 8               /* file names f0 .. f7 in a directory */
#define CM_REDRAW 1              /* bs__op.expect while drawing: no unambiguous result */
#define CM_LINE 1024             /* longest trace line (ops carry paths of up to CM_LONG bytes) */

/* A growable text buffer: the body of a trace while it is recorded. */
typedef struct bs__tbuf {
  char *p;
  size_t n, cap;
  bool oom; /* an append failed: the text is incomplete */
} bs__tbuf;
void bs__tbuf_add(bs__tbuf *b, const char *s, size_t n);
void bs__tbuf_free(bs__tbuf *b);

/* A growable byte buffer: the content of one version of a file.  Copies of
 * a version (a clone, a snapshot's file, the durable version of a clean
 * file) share its bytes until one of them changes (campaign_model.c): write
 * through bs__cm_buf_set, _write and _truncate only. */
typedef struct bs__cm_buf {
  uint8_t *p;
  size_t n, cap;
  uint32_t *refs; /* the buffers sharing p (NULL: p is this one's alone) */
} bs__cm_buf;

/* One file or directory the model knows, in any tree (main, snapshot, branch). */
typedef struct bs__cm_node {
  char path[CM_PATH];
  bs_file_kind kind;
  uint32_t group;       /* clone lineage: copies (reflink, snapshot, branch) share it */
  bool dirty;           /* changed since its last sync: a power loss may lose some of it */
  bs__cm_buf live;      /* what a read must return */
  bs__cm_buf dur;       /* what survives a power loss for certain */
  uint8_t xlen[CM_XATTRS];
  uint8_t xval[CM_XATTRS][CM_XATTR_LEN];
  /* In an overlay branch: the node is in the upper layer (made there or
   * copied up), and a directory made over a whiteout is opaque. */
  bool upper, opaque;
  /* Hard links: names of one inode in one tree share a nonzero ino
   * (lab/campaign_links.c); 0: the only name. */
  uint32_t ino;
  uint32_t phash; /* hash of path, ASCII case folded where the profile folds (bs__cm_find) */
} bs__cm_node;

typedef struct bs__cm_snap {
  bool live;
  uint64_t id;
  uint32_t branches;
  bool stacked;     /* a snapshot of an overlay branch (lab/campaign_stack.c) */
  int lower;        /* stacked: index of its lower (the branch's snapshot) */
  uint32_t holders; /* stacked snapshots whose lower it is */
} bs__cm_snap;

typedef struct bs__cm_branch {
  bool live;
  bool overlay; /* an overlay branch: copy-ups and whiteouts are modelled */
  int snap;     /* index into snaps */
} bs__cm_branch;

/* The reference model of one store. */
typedef struct bs__cm {
  bs_caps caps;
  bs__cm_node *nodes;
  size_t n, cap;
  bs__cm_snap snaps[CM_SNAPS];
  bs__cm_branch branches[CM_BRANCHES];
  uint64_t dead_id;     /* an id that was deleted (0: none yet) */
  uint32_t next_group;
  uint32_t next_ino;    /* the last ino given to a hard-linked file */
} bs__cm;

/* campaign_model.c */
void bs__cm_init(bs__cm *m, const bs_caps *caps);
void bs__cm_free(bs__cm *m);
int bs__cm_find(const bs__cm *m, const char *path);
bool bs__cm_parent_exists(const bs__cm *m, const char *path);
bool bs__cm_in_snapshot(const char *path);
bool bs__cm_dir_empty(const bs__cm *m, const char *dir);
int bs__cm_add(bs__cm *m, const char *path, bs_file_kind kind);
void bs__cm_remove(bs__cm *m, int i);
int bs__cm_copy_node(bs__cm *m, int src, const char *dst);
int bs__cm_copy_tree(bs__cm *m, const char *from, const char *to);
void bs__cm_remove_tree(bs__cm *m, const char *root);
int bs__cm_buf_set(bs__cm_buf *b, const uint8_t *p, size_t n);
int bs__cm_buf_write(bs__cm_buf *b, uint64_t off, const uint8_t *p, size_t n);
int bs__cm_buf_truncate(bs__cm_buf *b, uint64_t size);
void bs__cm_make_durable(bs__cm_node *nd);
void bs__cm_snap_root(char *buf, size_t cap, int snap);
void bs__cm_branch_root(char *buf, size_t cap, int branch);
/* Make every node below directory @dir durable (the sim syncs a directory's subtree). */
void bs__cm_sync_below(bs__cm *m, const char *dir);


/* The operations a campaign draws. */
typedef enum bs__op_kind {
  BS__OP_CREATE,
  BS__OP_MKDIR,
  BS__OP_WRITE,
  BS__OP_READ,
  BS__OP_TRUNCATE,
  BS__OP_REFLINK,
  BS__OP_SETXATTR,
  BS__OP_REMOVEXATTR,
  BS__OP_SNAP_CREATE,
  BS__OP_SNAP_DELETE,
  BS__OP_BRANCH_CREATE,
  BS__OP_BRANCH_DELETE,
  BS__OP_UNLINK,
  BS__OP_RMDIR,
  BS__OP_SYNC,
  BS__OP_POWER_LOSS,
  /* The overlay mix (bs_campaign_opts.overlay_mix) adds these; the default
   * mix never draws them, so its seeded streams and digests are unchanged. */
  BS__OP_SYMLINK,        /* path = link, path2 = target text */
  BS__OP_READLINK,
  BS__OP_OVERLAY_CREATE, /* bs_branch_create_opts(OVERLAY): name, id */
  /* A power loss in the middle of another operation on a file of an overlay
   * branch (a copy-up, a whiteout): op->inner with its arguments, cut after
   * op->steps backend calls, then a power loss of op->mode
   * (lab/campaign_crashin.c). */
  BS__OP_CRASH_IN,
  BS__OP_LINK,           /* bs_link: path = old name, path2 = new name (same tree) */
  BS__OP_BRANCH_SNAP,    /* bs_branch_snapshot: name = the snapshot, path2 = the branch (lab/campaign_stack.c) */
  BS__OP_COUNT
} bs__op_kind;

/* One drawn operation with the result the model expects. */
typedef struct bs__op {
  bs__op_kind kind;
  char path[CM_LONG];  /* target; "" for store-wide sync */
  char path2[CM_LONG]; /* reflink destination */
  char name[CM_LONG];  /* snapshot or branch name */
  int snap, branch;    /* pool indexes of name, -1 if not a pool name */
  uint64_t off, len;   /* write/read range; truncate size in off */
  uint64_t id;         /* snapshot id */
  uint64_t dseed;      /* seed of written bytes and xattr values */
  int xattr;           /* xattr name index */
  int mode;            /* bs_power_loss_mode */
  int expect;          /* the result code the model expects */
  uint32_t also;       /* other error codes that are right too: bit -code (BS__ALSO) */
  bs__op_kind inner;   /* crash-in: the operation that is cut */
  uint32_t steps;      /* crash-in: backend calls it makes before the power goes */
} bs__op;

/* Operations whose first argument is a snapshot or branch name. */
static inline bool bs__op_pool(bs__op_kind k) {
  return (k >= BS__OP_SNAP_CREATE && k <= BS__OP_BRANCH_DELETE) || k == BS__OP_OVERLAY_CREATE ||
         k == BS__OP_BRANCH_SNAP;
}

/* campaign_stack.c: snapshots of branches (stacked on an overlay branch's
 * snapshot) in the overlay mix (docs/campaign.md, "The overlay mix").  A
 * snapshot is BUSY while a branch or a stacked snapshot holds it. */
bool bs__cm_snap_busy(const bs__cm *m, int snap);
struct bs__camp;
/* Draw a branch-snapshot (op->expect CM_REDRAW when ambiguous). */
void bs__camp_draw_branch_snap(struct bs__camp *c, bs__op *op);
/* Its result code from the model (0, or -1 with @why: outside the model). */
int bs__camp_expect_branch_snap(const bs__cm *m, bs__op *op, char *why, size_t cap);
/* The model after a snapshot (of the main tree, or a branch-snapshot) with
 * info @si, and after a snapshot delete; 0 or BS_ENO_MEMORY. */
int bs__cm_snap_made(bs__cm *m, const bs__op *op, const bs_snapshot_info *si);
void bs__cm_snap_gone(bs__cm *m, int snap);

/* Bit of error code @code in bs__op.also. */
#define BS__ALSO(code) (1u << (unsigned)(-(code)))

/* campaign_overlay.c: the copy-ups and whiteouts an operation makes in an
 * overlay branch, with the syncs they imply (docs/campaign.md, "The overlay
 * mix").  bs__cm_ov_before runs before the operation is applied to the model
 * (whatever its result), bs__cm_ov_after after a successful one. */
typedef struct bs__cm_ov {
  bool lower_any; /* the removed name was in the lower: a whiteout replaced it */
} bs__cm_ov;
void bs__cm_ov_before(bs__cm *m, const bs__op *op, int rc, bs__cm_ov *st);
void bs__cm_ov_after(bs__cm *m, const bs__op *op, const bs__cm_ov *st);
/* The overlay branch (0 .. CM_BRANCHES-1) holding @path or its root, or -1. */
int bs__cm_ov_branch_of(const bs__cm *m, const char *path);

/* campaign_links.c: hard links (docs/campaign.md, "Hard links").  Copy the
 * state of node @i to the other names of its inode; make @to a new name of
 * @from (0 or BS_ENO_MEMORY); draw a link (CM_REDRAW when none fits); its
 * oracle (-1 with @why for a link the model cannot predict). */
void bs__cm_links_sync(bs__cm *m, int i);
int bs__cm_link(bs__cm *m, const char *from, const char *to);
struct bs__camp;
void bs__camp_draw_link(struct bs__camp *c, bs__op *op);
int bs__camp_expect_link(const bs__cm *m, bs__op *op, char *why, size_t cap);

/* State of one running seed. */
typedef struct bs__camp {
  const bs_campaign_opts *o;
  bs_store *st;
  bs__rng rng;
  bs__cm m;
  bs_campaign_result *res;
  uint32_t op_index;
  char op_text[192];
  bool has_check, has_clock, has_power_loss;
  bool held_checks; /* a sim store: node checks run with the clock held (campaign_check.c) */
  int64_t clock0;   /* the virtual clock when the store was opened (has_clock) */
  uint8_t *buf; /* scratch: CM_FILE_MAX + CM_BLOCK bytes */
  uint8_t *buf2;
  size_t nread; /* bytes the last read operation returned */
  bool replaying; /* expectations come from the oracle, not the generator */
  char line[CM_LINE]; /* the trace line of the last operation, without '\n' */
  bs__tbuf *rec;  /* if set, every trace body line is appended here */
  bool has_faults; /* the store is a faults store: drain fired faults after each op */
  bs__tbuf fault_lines; /* trace lines of the faults the last operation fired */
} bs__camp;

/* campaign_gen.c: draw the next operation and the result it must have. */
void bs__camp_draw(bs__camp *c, bs__op *op);
/* Fill @n bytes of @p from @seed (the content of a write, an xattr value). */
void bs__camp_fill(uint8_t *p, size_t n, uint64_t seed);

/* campaign_exec.c: run @op on the store and the model, check it. 0 or -1 (failed). */
int bs__camp_exec(bs__camp *c, const bs__op *op);
/* campaign_exec.c: call the store for @op only; @extra gets trace details. */
int bs__camp_call(bs__camp *c, const bs__op *op, bs_snapshot_info *si, char *extra, size_t cap);

/* campaign_crashin.c (docs/campaign.md, "Power loss in a copy-up"): the
 * operations a crash-in may cut, drawing one (op->expect CM_REDRAW when no
 * overlay file is there to cut), its oracle, and running it. */
bool bs__crash_in_inner_ok(bs__op_kind k);
void bs__camp_draw_crash_in(bs__camp *c, bs__op *op);
int bs__camp_expect_crash_in(const bs__cm *m, bool has_power_loss, bs__op *op, char *why, size_t cap);
int bs__camp_crash_in(bs__camp *c, const bs__op *op, const char *full);

/* campaign_opline.c: the text of an operation in a trace line. */
extern const char *const bs__op_names[BS__OP_COUNT];
/* Canonical text of @op, every argument in full ("write /d0/f3 off=0 len=9 data=..."). */
void bs__op_format(char *buf, size_t cap, const bs__op *op);
/* The same shortened for messages: long names cut to 48 bytes. */
void bs__op_format_short(char *buf, size_t cap, const bs__op *op);
/* No name or path of @op is long enough to be cut: its short text is its
 * full text (cut to the buffer as snprintf cuts). */
bool bs__op_short_is_full(const bs__op *op);
/* Parse the text @s of one operation (as bs__op_format writes it, up to " -> ")
 * into @op; 0, or -1 with a reason in @why. */
int bs__op_parse(const char *s, bs__op *op, char *why, size_t why_cap);
/* Run the operation of text @s on @c as a replay does: parsed, judged by the
 * oracle, then bs__camp_exec.  0; -1 when a check failed (c->res says
 * which); -2 when @s does not parse or the model cannot predict it (@why). */
int bs__camp_run_text(struct bs__camp *c, const char *s, char *why, size_t why_cap);

/* campaign_oracle.c: the result codes the model allows for @op in its
 * current state (sets op->expect, op->also, op->snap, op->branch).  0, or -1
 * with a reason in @why when @op is outside what the model can predict. */
int bs__camp_expect(const bs__cm *m, bool has_power_loss, bs__op *op, char *why, size_t why_cap);

/* campaign_check.c */
int bs__camp_fail(bs__camp *c, const char *check, const char *expected, const char *actual,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int bs__camp_check_store(bs__camp *c, bool full);
/* What bs__camp_check_parts compares of a node besides its kind (stat):
 * the content (size, bytes, a symlink's target) and the xattrs. */
#define BS__CK_CONTENT 1u
#define BS__CK_XATTRS 2u
#define BS__CK_ALL (BS__CK_CONTENT | BS__CK_XATTRS)
int bs__camp_check_node(bs__camp *c, int i); /* every part */
int bs__camp_check_parts(bs__camp *c, int i, unsigned parts);
/* The same with the content only in bytes [@off, @off + @len) (the kind and
 * the size are always checked); 0, SIZE_MAX: the whole file. */
int bs__camp_check_range(bs__camp *c, int i, unsigned parts, size_t off, size_t len);
/* Advance the sim's clock as the full comparison of node @i would have,
 * without comparing (campaign_check.c says why); on other stores, compare
 * (0 or -1 failed). */
int bs__camp_charge_node(bs__camp *c, int i);
/* Every node of lineage @group, the @parts of each. */
int bs__camp_check_group(bs__camp *c, uint32_t group, unsigned parts);
int bs__camp_check_absent(bs__camp *c, const char *path);
int bs__camp_check_usage(bs__camp *c, bs_usage *out);
int bs__camp_sweep(bs__camp *c);
/* A sweep that compares only @file_parts of files (after a power loss, whose
 * check has just read and compared every file's bytes). */
int bs__camp_sweep_parts(bs__camp *c, unsigned file_parts);

/* campaign_faults.c: check fault spec @text for a campaign and give its
 * canonical text in *@canon (free()); 0 or an error with a reason in @why. */
int bs__camp_faults_spec(const char *text, char **canon, char *why, size_t cap);
/* Drain the faults that fired since the last call into trace lines (and
 * c->fault_lines); their number, *@first_error the first one's error. */
int bs__camp_faults_drain(bs__camp *c, int *first_error);

/* campaign_crash.c: reconcile the model with the store after a power loss. */
int bs__camp_after_power_loss(bs__camp *c, uint64_t *content_hash);

/* bs__campaign_seed: o->stop ended the seed before its end (not an error). */
#define BS__CAMPAIGN_STOPPED 1
/* campaign.c: one seed, with @tick called every few hundred operations;
 * 0, BS__CAMPAIGN_STOPPED, or a BS_E* code. */
int bs__campaign_seed(bs_campaign_result *out, const bs_campaign_opts *o, uint64_t seed,
                      void (*tick)(void *ctx, uint32_t ops), void *tick_ctx);
/* campaign.c: open the store and the model of one seed (o->backend,
 * o->profile, o->sim_bug, o->faults) / release them. */
int bs__camp_open(bs__camp *c, const bs_campaign_opts *o, bs_campaign_result *res, uint64_t seed);
void bs__camp_close(bs__camp *c);
/* campaign.c: a full sweep, recorded as a "sweep" trace line. */
int bs__camp_sweep_line(bs__camp *c);

/* campaign.c: FNV-1a 64 and the trace line of the current operation. */
#define BS__FNV_OFFSET 0xcbf29ce484222325ull
uint64_t bs__fnv1a(uint64_t h, const void *p, size_t n);
/* Hash of file content for trace lines: the same in every process, faster. */
uint64_t bs__content_hash(uint64_t h, const void *p, size_t n);
void bs__camp_trace(bs__camp *c, const char *op_full, int rc, const char *extra);

#endif
