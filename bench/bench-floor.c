/* bench-floor.c: the least any before_vm_start hook does (parse the domain XML with libxml2, write it back atomically): the bench's baseline. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

int main(int argc, char **argv)
{
        const char *path = argc > 1 ? argv[1] : getenv("_hook_domxml");
        char tmp[PATH_MAX];
        xmlChar *out = NULL;
        xmlDocPtr doc;
        int len = 0, fd;

        if (!path || !*path) {
                fprintf(stderr, "bench-floor: usage: bench-floor FILE (or $_hook_domxml)\n");
                return 2;
        }
        doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
        if (!doc) {
                fprintf(stderr, "bench-floor: %s: not well-formed XML\n", path);
                return 2;
        }
        xmlDocDumpMemory(doc, &out, &len);
        if (!out || len <= 0) {
                fprintf(stderr, "bench-floor: cannot serialize %s\n", path);
                return 2;
        }
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
                fprintf(stderr, "bench-floor: path too long\n");
                return 2;
        }
        fd = mkstemp(tmp);
        if (fd < 0) {
                fprintf(stderr, "bench-floor: mkstemp %s: %s\n", tmp, strerror(errno));
                return 2;
        }
        if (write(fd, out, (size_t)len) != len || close(fd) != 0 || rename(tmp, path) != 0) {
                fprintf(stderr, "bench-floor: cannot replace %s: %s\n", path, strerror(errno));
                unlink(tmp);
                return 2;
        }
        xmlFree(out);
        xmlFreeDoc(doc);
        return 0;
}
