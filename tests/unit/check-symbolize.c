/*
 * Unit tests for tools/symbolize.c: this test program symbolizes itself,
 * offline from a module table made like the runtime's (path, build-id, load
 * bias) and live from its pid: functions, file:line at return addresses,
 * inlined calls, static locks by variable and member, build-id checks.
 */
#include "config.h"

#define _GNU_SOURCE 1
#include <link.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/symbolize.h"
#include "check-main.h"

static pthread_mutex_t accounts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct account {
	int id;
	long balance;
	pthread_mutex_t lock;
} bob;
static pthread_mutex_t locks[4];

static uintptr_t seen_ra;
static int call_line, inline_call_line;

__attribute__((noinline)) static void
leaf(void)
{
	seen_ra = (uintptr_t)__builtin_return_address(0);
	__asm__ volatile("");
}

static inline __attribute__((always_inline)) void
inlined_middle(void)
{
	inline_call_line = __LINE__ + 1;
	leaf();
}

__attribute__((noinline)) static void
outer(void)
{
	call_line = __LINE__ + 1;
	inlined_middle();
	__asm__ volatile("");
}

struct self {
	char path[4096];
	uintptr_t bias, lo, hi;
	char build_id[128];
};

static int
find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct self *s = arg;

	(void)size;
	if (info->dlpi_name[0] == '\0') { /* the main program */
		s->bias = info->dlpi_addr;
		s->lo = UINTPTR_MAX;
		for (int i = 0; i < info->dlpi_phnum; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			const char *p, *end;

			if (ph->p_type == PT_LOAD) {
				uintptr_t a = info->dlpi_addr + ph->p_vaddr;

				s->lo = a < s->lo ? a : s->lo;
				s->hi = a + ph->p_memsz > s->hi ? a + ph->p_memsz : s->hi;
			}
			if (ph->p_type != PT_NOTE)
				continue;
			p = (const char *)(info->dlpi_addr + ph->p_vaddr);
			end = p + ph->p_memsz;
			while (p + sizeof(ElfW(Nhdr)) <= end) {
				const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
				const unsigned char *desc =
					(const unsigned char *)p + sizeof(*nh) + ((nh->n_namesz + 3) & ~3u);

				if (nh->n_type == NT_GNU_BUILD_ID) {
					for (unsigned k = 0; k < nh->n_descsz && k < 63; k++)
						sprintf(s->build_id + 2 * k, "%02x", desc[k]);
				}
				p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
			}
		}
		return 1;
	}
	return 0;
}

static struct symbolizer *
offline_self(struct self *s, const char *build_id)
{
	struct sym_module m;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	n = readlink("/proc/self/exe", s->path, sizeof(s->path) - 1);
	ck_assert(n > 0);
	dl_iterate_phdr(find_self, s);
	m = (struct sym_module){s->path, build_id ? build_id : s->build_id, s->bias, s->lo, s->hi};
	return sym_open_modules(&m, 1);
}

START_TEST(test_symbolize_functions_and_lines)
{
	struct self me;
	struct symbolizer *s = offline_self(&me, NULL);
	struct sym_frame f;
	const char *const *msgs;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(sym_problems(s, &msgs), 0);
	outer();
	sym_code(s, seen_ra, true, &f);
	ck_assert_int_eq(f.status, SYM_OK);
	ck_assert_str_eq(f.symbol, "outer");
	ck_assert_uint_eq(f.module_offset, seen_ra - me.bias);
	ck_assert_int_ge(f.ninl, 2);
	/* inl[0]: the inlined function, at its call of leaf(); inl[1]: outer,
	 * at the line where it was inlined. */
	ck_assert_str_eq(f.inl[0].function, "inlined_middle");
	ck_assert_int_eq(f.inl[0].line, inline_call_line);
	ck_assert_ptr_nonnull(strstr(f.inl[0].file, "check-symbolize.c"));
	ck_assert_str_eq(f.inl[1].function, "outer");
	ck_assert_int_eq(f.inl[1].line, call_line);
	ck_assert_msg(f.inl[1].file[0] == '/', "not absolute: %s", f.inl[1].file);
	/* A code address as such (not a return address). */
	sym_code(s, (uintptr_t)leaf, false, &f);
	ck_assert_str_eq(f.symbol, "leaf");
	ck_assert_uint_eq(f.symbol_offset, 0);
	ck_assert_str_eq(f.inl[f.ninl - 1].function, "leaf");
	sym_free(s);
}
END_TEST

START_TEST(test_symbolize_names_static_locks)
{
	struct self me;
	struct symbolizer *s = offline_self(&me, NULL);
	struct sym_data d;

	sym_data(s, (uintptr_t)&accounts_lock, &d);
	ck_assert_int_eq(d.status, SYM_OK);
	ck_assert_str_eq(d.name, "accounts_lock");
	ck_assert_str_eq(d.symbol, "accounts_lock");
	ck_assert_int_gt(d.decl_line, 0);
	sym_data(s, (uintptr_t)&bob.lock, &d);
	ck_assert_str_eq(d.name, "bob.lock");
	ck_assert_uint_eq(d.symbol_offset, offsetof(struct account, lock));
	sym_data(s, (uintptr_t)&locks[2], &d);
	ck_assert_str_eq(d.name, "locks[2]");
	sym_free(s);
}
END_TEST

START_TEST(test_symbolize_checks_build_ids)
{
	struct self me;
	struct symbolizer *s = offline_self(&me, "00112233445566778899aabbccddeeff00112233");
	struct sym_frame f;
	const char *const *msgs;
	struct sym_module gone = {"/nonexistent/libgone.so", "", 0x7f0000000000, 0x7f0000000000,
				  0x7f0000100000};

	outer();
	ck_assert_uint_eq(sym_problems(s, &msgs), 0); /* said when it matters */
	sym_code(s, seen_ra, true, &f);
	ck_assert_int_eq(f.status, SYM_MISMATCH); /* the mismatched file is not used */
	ck_assert_ptr_null(f.symbol);
	ck_assert_uint_eq(sym_problems(s, &msgs), 1);
	ck_assert_ptr_nonnull(strstr(msgs[0], "another build"));
	sym_add_modules(s, &gone, 1);
	sym_code(s, 0x7f0000000100, true, &f);
	ck_assert_int_eq(f.status, SYM_MISSING);
	ck_assert_str_eq(f.module, "/nonexistent/libgone.so");
	ck_assert_uint_eq(sym_problems(s, &msgs), 2);
	sym_free(s);
	/* Without a recorded build-id nothing is checked. */
	s = offline_self(&me, "");
	sym_code(s, seen_ra, true, &f);
	ck_assert_str_eq(f.symbol, "outer");
	sym_free(s);
}
END_TEST

START_TEST(test_symbolize_a_live_process)
{
	char err[128];
	struct symbolizer *s = sym_open_pid(getpid(), err, sizeof(err));
	struct sym_frame f;
	struct sym_data d;

	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_ptr_nonnull(sym_dwfl(s)); /* attach unwinds on the same session */
	outer();
	sym_code(s, seen_ra, true, &f);
	ck_assert_int_eq(f.status, SYM_OK);
	ck_assert_str_eq(f.inl[f.ninl - 1].function, "outer");
	/* A libc function no sanitizer interposes. */
	sym_code(s, (uintptr_t)gnu_get_libc_version + 1, false, &f);
	ck_assert_ptr_nonnull(f.module);
	ck_assert_ptr_nonnull(strstr(f.module, "libc"));
	sym_data(s, (uintptr_t)&bob.lock, &d);
	ck_assert_str_eq(d.name, "bob.lock");
	sym_free(s);
	ck_assert_ptr_null(sym_open_pid(999999999, err, sizeof(err)));
}
END_TEST

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct {
	int n;
	pthread_mutex_t m[2];
	pthread_rwlock_t rw;
} nested[3];
static long no_locks[100000]; /* an array without locks costs one look */

struct found {
	uintptr_t addr[64];
	int kind[64];
	int n;
};

static void
found_lock(void *arg, uint64_t addr, enum sym_lock_kind kind)
{
	struct found *f = arg;

	if (f->n < 64) {
		f->addr[f->n] = (uintptr_t)addr;
		f->kind[f->n++] = kind;
	}
}

static int
kind_at(const struct found *f, const void *p)
{
	for (int i = 0; i < f->n; i++)
		if (f->addr[i] == (uintptr_t)p)
			return f->kind[i];
	return -1;
}

static bool
skip_libs(const char *path)
{
	return strstr(path, "check-symbolize") == NULL;
}

START_TEST(test_symbolize_lists_every_static_lock)
{
	char err[128];
	struct symbolizer *s = sym_open_pid(getpid(), err, sizeof(err));
	struct found f = {.n = 0};
	size_t n;

	ck_assert_msg(s != NULL, "%s", err);
	no_locks[1] = 1;
	n = sym_static_locks(s, skip_libs, found_lock, &f, 64);
	ck_assert_int_eq(n, (size_t)f.n);
	ck_assert_int_eq(kind_at(&f, &accounts_lock), SYM_LOCK_MUTEX);
	ck_assert_int_eq(kind_at(&f, &bob.lock), SYM_LOCK_MUTEX);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(kind_at(&f, &locks[i]), SYM_LOCK_MUTEX);
	ck_assert_int_eq(kind_at(&f, &table_lock), SYM_LOCK_RWLOCK);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(kind_at(&f, &nested[i].m[0]), SYM_LOCK_MUTEX);
		ck_assert_int_eq(kind_at(&f, &nested[i].m[1]), SYM_LOCK_MUTEX);
		ck_assert_int_eq(kind_at(&f, &nested[i].rw), SYM_LOCK_RWLOCK);
	}
	ck_assert_int_eq(kind_at(&f, &nested[0].n), -1);
	ck_assert_int_eq(f.n, 7 + 9); /* nothing else in this program */
	/* At most max. */
	f.n = 0;
	ck_assert_int_eq(sym_static_locks(s, skip_libs, found_lock, &f, 3), 3);
	sym_free(s);
}
END_TEST

static Suite *
symbolize_suite(void)
{
	Suite *s = suite_create("symbolize");
	TCase *offline = tcase_create("offline"), *live = tcase_create("live");

	tcase_add_test(offline, test_symbolize_functions_and_lines);
	tcase_add_test(offline, test_symbolize_names_static_locks);
	tcase_add_test(offline, test_symbolize_checks_build_ids);
	tcase_add_test(live, test_symbolize_a_live_process);
	tcase_add_test(live, test_symbolize_lists_every_static_lock);
	tcase_set_timeout(offline, 60);
	tcase_set_timeout(live, 60);
	suite_add_tcase(s, offline);
	suite_add_tcase(s, live);
	return s;
}

CHECK_MAIN(symbolize_suite)
