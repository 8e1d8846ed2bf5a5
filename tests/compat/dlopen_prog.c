/*
 * Loads the library by name at run time, as ctypes and Ruby FFI do, and uses both its
 * native API and its libnetfilter_queue API through dlsym: version and error strings, a
 * config round trip, and (as root) opening a queue, binding, closing.
 * usage: dlopen_prog LIBNAME   (e.g. libnfq_rs.so, found through LD_LIBRARY_PATH)
 * Prints "dlopen: N passed, M failed".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;
#define CHECK(c) do { if (c) passed++; else { failed++; fprintf(stderr, "FAIL: %s\n", #c); } } while (0)

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "libnfq_rs.so";
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen %s: %s\n", name, dlerror());
		return 2;
	}
	Dl_info info;
	const char *(*version)(void) = (const char *(*)(void))dlsym(h, "nfq_rs_version");
	const char *(*strerr)(int) = (const char *(*)(int))dlsym(h, "nfq_rs_strerror");
	void *(*cfg_new)(uint16_t) = (void *(*)(uint16_t))dlsym(h, "nfq_rs_config_new");
	void (*cfg_free)(void *) = (void (*)(void *))dlsym(h, "nfq_rs_config_free");
	int (*cfg_copy)(void *, int, uint32_t) = (int (*)(void *, int, uint32_t))dlsym(h, "nfq_rs_config_set_copy_mode");
	int (*open_q)(const void *, void **) = (int (*)(const void *, void **))dlsym(h, "nfq_rs_open");
	void (*close_q)(void *) = (void (*)(void *))dlsym(h, "nfq_rs_close");
	int (*fd_q)(const void *) = (int (*)(const void *))dlsym(h, "nfq_rs_fd");
	void *(*nfq_open)(void) = (void *(*)(void))dlsym(h, "nfq_open");
	int (*nfq_close)(void *) = (int (*)(void *))dlsym(h, "nfq_close");
	int (*nfq_fd)(void *) = (int (*)(void *))dlsym(h, "nfq_fd");
	int *nfq_errno = (int *)dlsym(h, "nfq_errno");

	CHECK(version && strerr && cfg_new && cfg_free && cfg_copy && open_q && close_q && fd_q);
	CHECK(nfq_open && nfq_close && nfq_fd && nfq_errno);
	if (failed)
		goto out;
	CHECK(dladdr((void *)version, &info) && strstr(info.dli_fname, "nfq_rs") != NULL);
	CHECK(strlen(version()) > 0);
	CHECK(strcmp(strerr(0), "success") == 0);
	CHECK(strlen(strerr(-2)) > 0);
	void *cfg = cfg_new(11);
	CHECK(cfg != NULL);
	CHECK(cfg_copy(cfg, 2, 128) == 0);
	CHECK(cfg_copy(cfg, 9, 0) == -1);
	CHECK(cfg_copy(NULL, 2, 0) == -1);
	void *q = NULL;
	int rc = open_q(cfg, &q);
	CHECK(rc == 0 && q != NULL);
	if (q) {
		CHECK(fd_q(q) >= 0);
		close_q(q);
	}
	cfg_free(cfg);
	void *lh = nfq_open();
	CHECK(lh != NULL && nfq_fd(lh) >= 0);
	if (lh)
		CHECK(nfq_close(lh) == 0);
	CHECK(*nfq_errno == 0);
out:
	printf("dlopen: %d passed, %d failed (version %s)\n", passed, failed, version ? version() : "?");
	dlclose(h);
	return failed != 0;
}
