/*
 * Stacks of the target's threads, for lockhound attach: libdwfl unwinds them
 * with DWARF CFI (.eh_frame, .debug_frame) on the symbolizer's own Dwfl
 * (sym_dwfl()), so that the modules are read once for both jobs.
 *
 * The Dwfl is attached to the process with our own thread callbacks rather
 * than dwfl_linux_proc_attach(): libdwfl's would stop each thread with
 * PTRACE_ATTACH, one at a time, while we have stopped them all already
 * (attach-ptrace.c) and hold their registers. A thread left running (its
 * system call would fail with EINTR if stopped) is unwound from the stack
 * pointer and pc that /proc/PID/task/TID/syscall gives: the CFI of the
 * system call's wrapper finds its caller; a caller that needs the frame
 * pointer gets one found by scanning the stack for a chain of saved frame
 * pointers and return addresses, and its stack says so.
 *
 * Unwind tables are loaded before any thread is stopped (unwind_prepare),
 * so that threads stay stopped only while their stacks are read.
 */
#include "config.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"

#define DWARF_RBP 6
#define DWARF_RSP 7
#define SCAN_BYTES (64 * 1024)

struct unwind_ctx {
	struct target *t;
	uint64_t fp;	/* this pass: give the thread this frame pointer (0: none) */
	struct tthread *cur;
	/* a one-page cache of the target's memory */
	uint64_t page;
	bool page_ok;
	uint8_t bytes[4096];
};

static bool
mem_word(struct unwind_ctx *c, uint64_t addr, uint64_t *out)
{
	uint64_t page = addr & ~(uint64_t)4095;

	if ((addr & 4095) > 4096 - 8)
		return target_read(c->t, addr, out, sizeof(*out));
	if (!c->page_ok || c->page != page) {
		c->page = page;
		c->page_ok = target_read(c->t, page, c->bytes, sizeof(c->bytes));
		if (!c->page_ok)
			return target_read(c->t, addr, out, sizeof(*out));
	}
	memcpy(out, c->bytes + (addr - page), sizeof(*out));
	return true;
}

static pid_t
cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	(void)dwfl;
	(void)arg;
	(void)thread_argp;
	return 0; /* threads are asked for one by one (dwfl_getthread_frames) */
}

static bool
cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct unwind_ctx *c = arg;

	(void)dwfl;
	c->cur = target_thread(c->t, tid);
	*thread_argp = c;
	return c->cur != NULL;
}

static bool
cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	uint64_t v;

	(void)dwfl;
	if (!mem_word(arg, addr, &v))
		return false;
	*result = v;
	return true;
}

static bool
is_code(Dwfl *dwfl, uint64_t addr)
{
	Dwfl_Module *m = addr ? dwfl_addrmodule(dwfl, addr - 1) : NULL;
	Dwarf_Addr bias;

	/* A text address of a module: one with unwind tables for it. */
	return m && (dwfl_module_eh_cfi(m, &bias) || dwfl_module_dwarf_cfi(m, &bias));
}

/*
 * Candidates for the frame pointer of a thread we only know sp and pc of:
 * slots at or above from (the stack pointer of the deepest frame the CFI
 * reached) that look like a frame record: a saved frame pointer (0, or
 * higher up the stack) followed by a return address into code. Returns
 * how many were stored, lowest first.
 */
static int
fp_candidates(Dwfl *dwfl, struct unwind_ctx *c, uint64_t from, uint64_t *out, int max)
{
	int n = 0;

	for (uint64_t a = (from + 7) & ~(uint64_t)7; a < from + SCAN_BYTES && n < max; a += 8) {
		uint64_t next, ret;

		if (!mem_word(c, a, &next) || !mem_word(c, a + 8, &ret))
			break;
		if ((next == 0 || (next > a && next <= a + (1u << 20) && !(next & 7))) &&
		    is_code(dwfl, ret))
			out[n++] = a;
	}
	return n;
}

static bool
cb_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct unwind_ctx *c = arg;
	struct tthread *th = c->cur;
	Dwarf_Word regs[ATTACH_NREGS];

	if (!th)
		return false;
	if (th->have_regs) {
		memcpy(regs, th->regs, sizeof(regs));
		if (!dwfl_thread_state_registers(thread, 0, ATTACH_NREGS - 1, regs))
			return false;
		dwfl_thread_state_register_pc(thread, th->regs[16]);
		return true;
	}
	if (!th->sc_ok || !th->pc)
		return false;
	regs[0] = th->sp;
	if (!dwfl_thread_state_registers(thread, DWARF_RSP, 1, regs))
		return false;
	if (c->fp) {
		regs[0] = c->fp;
		if (!dwfl_thread_state_registers(thread, DWARF_RBP, 1, regs))
			return false;
	}
	dwfl_thread_state_register_pc(thread, th->pc);
	return true;
}

static void
cb_detach(Dwfl *dwfl, void *arg)
{
	(void)dwfl;
	(void)arg; /* the context belongs to target_unwind's caller */
}

static const Dwfl_Thread_Callbacks callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
	.detach = cb_detach,
	.thread_detach = NULL,
};

struct collect {
	uint64_t pcs[ATTACH_MAX_FRAMES];
	int n;
	uint64_t last_sp; /* the stack pointer of the last frame, 0 if unknown */
};

static int
frame_cb(Dwfl_Frame *state, void *arg)
{
	struct collect *k = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation) || pc == 0)
		return DWARF_CB_ABORT; /* the end, or garbage: what we have stands */
	k->pcs[k->n++] = pc;
	if (dwfl_frame_reg(state, DWARF_RSP, &k->last_sp) != 0)
		k->last_sp = 0;
	return k->n < ATTACH_MAX_FRAMES ? DWARF_CB_OK : DWARF_CB_ABORT;
}

/* Whether the stack reached a thread's first function. */
static bool
complete(Dwfl *dwfl, const struct collect *k)
{
	Dwfl_Module *m;
	const char *name;
	GElf_Off off;
	GElf_Sym sym;

	if (k->n == 0)
		return false;
	m = dwfl_addrmodule(dwfl, k->pcs[k->n - 1] - (k->n > 1));
	name = m ? dwfl_module_addrinfo(m, k->pcs[k->n - 1] - (k->n > 1), &off, &sym, NULL,
					NULL, NULL)
		 : NULL;
	return name && (strstr(name, "clone") || strcmp(name, "_start") == 0 ||
			strstr(name, "libc_start"));
}

static int
prepare_one(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	Dwarf_Addr bias;

	(void)ud;
	(void)name;
	(void)start;
	(void)arg;
	if (!dwfl_module_eh_cfi(mod, &bias))
		dwfl_module_dwarf_cfi(mod, &bias);
	return DWARF_CB_OK;
}

/* Keeps k's frames in th. */
static void
keep(struct tthread *th, const struct collect *k)
{
	free(th->pcs);
	th->npcs = 0;
	th->pcs = malloc(((size_t)k->n + 1) * sizeof(*th->pcs));
	if (!th->pcs)
		return;
	memcpy(th->pcs, k->pcs, (size_t)k->n * sizeof(*th->pcs));
	th->npcs = k->n;
}

int
target_unwind(struct target *t, Dwfl *dwfl, char *why, size_t whysz)
{
	static struct unwind_ctx ctx; /* libdwfl keeps a pointer to it */
	static struct collect k0, k1, k2;

	memset(&ctx, 0, sizeof(ctx));
	ctx.t = t;
	if (!dwfl_attach_state(dwfl, NULL, t->pid, &callbacks, &ctx)) {
		snprintf(why, whysz, "libdwfl cannot unwind this process: %s", dwfl_errmsg(-1));
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct tthread *th = &t->th[i];
		const struct collect *k = &k0;
		int rc;

		if (th->st != TH_STOPPED && th->st != TH_LEFT)
			continue;
		ctx.page_ok = false;
		ctx.fp = 0;
		k0.n = 0;
		k0.last_sp = 0;
		rc = dwfl_getthread_frames(dwfl, th->tid, frame_cb, &k0);
		if (!th->have_regs && !complete(dwfl, &k0)) {
			/* Left running, and the CFI alone ended early (a caller that
			 * needs the frame pointer): try frame pointers found by a
			 * scan of the stack; keep a stack that reaches the thread's
			 * start, else the longest. */
			uint64_t cand[8];
			int nc = fp_candidates(dwfl, &ctx, k0.last_sp ? k0.last_sp : th->sp, cand, 8);

			for (int j = 0; j < nc; j++) {
				int rc1;

				ctx.fp = cand[j];
				ctx.page_ok = false;
				k2.n = 0;
				k2.last_sp = 0;
				rc1 = dwfl_getthread_frames(dwfl, th->tid, frame_cb, &k2);
				if (complete(dwfl, &k2) || k2.n > k->n) {
					k1 = k2;
					k = &k1;
					rc = rc1;
					th->guessed = true;
				}
				if (complete(dwfl, &k2))
					break;
			}
		}
		keep(th, k);
		if (rc == -1 && !complete(dwfl, k)) {
			const char *msg = dwfl_errmsg(-1);

			if (asprintf(&th->unwind_note, "the unwinder stopped here: %s",
				     msg ? msg : "no unwind information") < 0)
				th->unwind_note = NULL;
		}
	}
	return 0;
}

void
unwind_prepare(Dwfl *dwfl)
{
	dwfl_getmodules(dwfl, prepare_one, NULL, 0);
}
