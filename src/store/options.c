/* options.c — defaults and names of the per-file and per-handle settings.
 * The defaults come from measurements on MD-like float32 data (README, "Choosing settings"). */
#include <string.h>

#include "vlstore.h"

void vls_options_init(vls_options *o)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->chunk_size = 4u << 20;
    /* 512 MiB MD bench, Blosc alone (bench/bench_codecs.c; README, "Choosing settings"):
     * lz4 at level 9 with byte shuffle and 512 KiB blocks gives ratio 1.553 at 1.1 GB/s
     * compress and 4.7 GB/s decode per thread. Level 1 reaches only 1.468; bit shuffle needs
     * the same block for the same ratio and decodes at half the speed; smaller blocks cost
     * ratio (128 KiB: 1.39) and buy faster single-record reads (vls_options_random_access). */
    o->codec = VLS_CODEC_LZ4;
    o->level = 9;
    o->shuffle = VLS_SHUFFLE_BYTE;
    o->typesize = 4;
    o->block_size = 512u << 10;
    o->placement = VLS_PLACE_NOCROSS;
    o->threads = 1;
    o->cache_bytes = 64u << 20;
    o->write_behind = 1;
}

void vls_options_random_access(vls_options *o)
{
    vls_options_init(o);
    o->block_size = 64u << 10; /* the smallest block Blosc 1 writes for lz4 (see chunk.c) */
}

static const struct {
    int code;
    const char *name;
} codecs[] = {{VLS_CODEC_BLOSCLZ, "blosclz"}, {VLS_CODEC_LZ4, "lz4"}, {VLS_CODEC_LZ4HC, "lz4hc"},
              {VLS_CODEC_ZLIB, "zlib"},       {VLS_CODEC_ZSTD, "zstd"}, {VLS_CODEC_NONE, "none"}};

const char *vls_compressor_name(int codec)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (codecs[i].code == codec)
            return codecs[i].name;
    return "unknown";
}

int vls_compressor_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof codecs / sizeof codecs[0]; i++)
        if (strcmp(codecs[i].name, name) == 0)
            return codecs[i].code;
    return -1;
}

static const char *const placements[] = {"nocross", "contiguous", "start"};

const char *vls_placement_name(int placement)
{
    return placement >= 0 && placement <= 2 ? placements[placement] : "unknown";
}

int vls_placement_from_name(const char *name)
{
    for (int i = 0; name && i < 3; i++)
        if (strcmp(placements[i], name) == 0)
            return i;
    /* the seed's spellings */
    if (name && strcmp(name, "no_cross") == 0)
        return VLS_PLACE_NOCROSS;
    return -1;
}
