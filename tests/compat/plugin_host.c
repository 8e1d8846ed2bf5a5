/*
 * Loads a plugin as an interpreter loads an extension module (dlopen with RTLD_NOW |
 * RTLD_LOCAL, the way CPython does) and runs its nfq_plugin_run(qnum, port, npkt). The host
 * itself links nothing of netfilter.
 * usage: plugin_host PLUGIN.so QNUM PORT NPKT; exit status: the plugin's, 2 if it cannot load.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s PLUGIN.so QNUM PORT NPKT\n", argv[0]);
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		printf("load failed\n");
		return 2;
	}
	int (*run)(int, int, int) = (int (*)(int, int, int))dlsym(h, "nfq_plugin_run");
	if (!run) {
		fprintf(stderr, "dlsym nfq_plugin_run: %s\n", dlerror());
		return 2;
	}
	int rc = run(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	fflush(stdout);
	return rc;
}
