// blobfetch-testgen: writes deterministic blobs for the demo, tests and
// benchmarks, and prints their SHA-256.
//   blobfetch-testgen SEED SIZE OUTPUT   -> prints "<sha256>  OUTPUT"
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "support/blob_content.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: blobfetch-testgen SEED SIZE OUTPUT\n");
        return 2;
    }
    try {
        std::string sha = blobfetch::test::write_blob(argv[3], std::strtoull(argv[1], nullptr, 10),
                                                      std::strtoull(argv[2], nullptr, 10));
        std::printf("%s  %s\n", sha.c_str(), argv[3]);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "blobfetch-testgen: %s\n", e.what());
        return 1;
    }
    return 0;
}
