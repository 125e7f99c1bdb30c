/* Unit tests for lib/modules.c: the module map from /proc/self/maps. */
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check-main.h"
#include "lockhound-private.h"

int modules_test_function(void);
int
modules_test_function(void)
{
	return 42;
}

START_TEST(test_modules_find_the_executable)
{
	char exe[1024];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const struct lh_module *m;

	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	lh_modules_refresh();
	m = lh_module_find((uintptr_t)modules_test_function);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->path, exe);
	ck_assert_uint_eq(strlen(m->build_id), 40);
	ck_assert_ptr_eq(lh_module_at(m->index), m);
}
END_TEST

START_TEST(test_modules_bias_gives_file_addresses)
{
	/* A libc function no sanitizer interposes. */
	const void *fn = (const void *)&gnu_get_libc_version;
	Dl_info info;
	const struct lh_module *m = lh_module_find((uintptr_t)fn);

	ck_assert_ptr_nonnull(m);
	ck_assert(strstr(m->path, "libc.so") != NULL);
	ck_assert(dladdr(fn, &info) != 0);
	ck_assert_uint_eq(m->bias, (uintptr_t)info.dli_fbase);
}
END_TEST

START_TEST(test_modules_unmapped_address_is_unknown)
{
	int local;

	ck_assert_ptr_null(lh_module_find((uintptr_t)&local));
	ck_assert_ptr_null(lh_module_find(16));
	ck_assert_ptr_null(lh_module_at(-1));
	ck_assert_ptr_null(lh_module_at(1 << 20));
}
END_TEST

/* The read calls this process made so far (/proc/self/io), or -1. */
static long
read_calls(void)
{
	char buf[512];
	FILE *f = fopen("/proc/self/io", "r");
	long n = -1;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "syscr: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

START_TEST(test_modules_heap_lookups_do_not_reread_the_maps)
{
	enum { N = 1000 };
	static void *blocks[N];
	void *fresh;
	long before, after;

	/* A report names every lock it lists, most of them on the heap, in
	 * no module: the maps are read again for a new mapping, not for each
	 * address in one the last reading saw. */
	for (int i = 0; i < N; i++)
		ck_assert_ptr_nonnull(blocks[i] = malloc(64));
	fresh = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(fresh, MAP_FAILED);
	ck_assert_ptr_null(lh_module_find_data((uintptr_t)fresh)); /* rereads: new */
	ck_assert_int_ge(before = read_calls(), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_ptr_null(lh_module_find_data((uintptr_t)blocks[i]));
		ck_assert_ptr_null(lh_module_find_data((uintptr_t)fresh + (uintptr_t)i * 512));
	}
	after = read_calls();
	/* Reading /proc/self/io takes a few; a reread of the maps each time
	 * would take at least 2 * N. */
	ck_assert_int_lt(after - before, 10);
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	munmap(fresh, 1 << 20);
}
END_TEST

START_TEST(test_modules_code_in_a_former_hole_is_found)
{
	char exe[1024];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *hole = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	const struct lh_module *m;
	void *p;
	int fd;

	/* An anonymous mapping that a lookup saw, unmapped, and an ELF file
	 * mapped in its place (as the kernel places a library in the hole a
	 * freed mapping left): its code is found, from the maps read again. */
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	ck_assert_ptr_ne(hole, MAP_FAILED);
	ck_assert_ptr_null(lh_module_find_data((uintptr_t)hole));
	ck_assert_ptr_null(lh_module_find_data((uintptr_t)hole + 64));
	ck_assert_int_ge(fd = open(exe, O_RDONLY), 0);
	p = mmap(hole, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
	close(fd);
	ck_assert_ptr_eq(p, hole);
	munmap(hole + 4096, (1 << 20) - 4096);
	ck_assert_ptr_nonnull(m = lh_module_find((uintptr_t)hole + 64));
	ck_assert_str_eq(m->path, exe);
	ck_assert_uint_eq(m->lo, (uintptr_t)hole);
	munmap(hole, 4096);
}
END_TEST

START_TEST(test_modules_a_library_loaded_later_is_found)
{
	void *local = malloc(64), *h, *fn;
	const struct lh_module *m;

	/* After lookups that the last reading answered, a library loaded
	 * since is still found: its mappings are new. libresolv comes with
	 * glibc and no test loads it otherwise. */
	ck_assert_ptr_null(lh_module_find((uintptr_t)local));
	ck_assert_ptr_nonnull(h = dlopen("libresolv.so.2", RTLD_NOW | RTLD_LOCAL));
	ck_assert_ptr_nonnull(fn = dlsym(h, "__b64_ntop"));
	ck_assert_ptr_nonnull(m = lh_module_find((uintptr_t)fn));
	ck_assert_ptr_nonnull(strstr(m->path, "libresolv"));
	ck_assert_ptr_null(lh_module_find((uintptr_t)local));
	free(local);
}
END_TEST

START_TEST(test_modules_build_id_of_files)
{
	char hex[64];

	ck_assert_int_eq(lh_elf_build_id("/proc/self/exe", hex, sizeof(hex)), 0);
	ck_assert_uint_eq(strlen(hex), 40);
	ck_assert_int_lt(lh_elf_build_id("/etc/passwd", hex, sizeof(hex)), 0);
	ck_assert_int_lt(lh_elf_build_id("/nonexistent", hex, sizeof(hex)), 0);
	ck_assert_int_lt(lh_elf_build_id("/proc/self/exe", hex, 10), 0);
}
END_TEST

START_TEST(test_modules_indexes_are_stable)
{
	int n = lh_module_count();
	const struct lh_module *m0 = lh_module_at(0);

	lh_modules_refresh();
	ck_assert_int_eq(lh_module_count(), n);
	ck_assert_ptr_eq(lh_module_at(0), m0);
}
END_TEST

static Suite *
modules_suite(void)
{
	Suite *s = suite_create("modules");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_modules_find_the_executable);
	tcase_add_test(tc, test_modules_bias_gives_file_addresses);
	tcase_add_test(tc, test_modules_unmapped_address_is_unknown);
	tcase_add_test(tc, test_modules_build_id_of_files);
	tcase_add_test(tc, test_modules_indexes_are_stable);
	tcase_add_test(tc, test_modules_heap_lookups_do_not_reread_the_maps);
	tcase_add_test(tc, test_modules_a_library_loaded_later_is_found);
	tcase_add_test(tc, test_modules_code_in_a_former_hole_is_found);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(modules_suite)
