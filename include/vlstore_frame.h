/*
 * vlstore_frame.h — molecular-dynamics frames as FlatBuffers, and an (extended) XYZ reader.
 *
 * A frame is one configuration of `nsites` sites (atoms): their types, masses, positions and,
 * optionally, forces, energy, cell, periodicity, charges and stress. This header offers
 *
 *  - a codec between `vls_frame` (plain C arrays) and a FlatBuffer of the schema
 *    schema/fbsites.fbs (table FBSites.FBFrame). Encoding is a few header writes plus one
 *    memcpy per array; decoding is a zero-copy view after a bounds-checking verifier.
 *    The bytes are ordinary FlatBuffers: flatc, and the FlatBuffers libraries of every
 *    language, read frames written here, and frames they write are read here.
 *  - a streaming parser for XYZ and extended-XYZ files that produces `vls_frame`s.
 *
 * Both depend on nothing but the C library; they do not touch a store. docs/FRAME.md is the
 * reference for the schema, the presence rules, the alignment rules, the verifier's checks and
 * the XYZ syntax accepted.
 *
 * Threads: the codec functions keep no state and may be called from any number of threads.
 * A vls_xyz parser is used by one thread at a time.
 */
#ifndef VLSTORE_FRAME_H
#define VLSTORE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vlstore.h"

#ifdef __cplusplus
extern "C" {
#endif

/*-*************************************
 *  The frame
 ***************************************/

/*! vls_dtype : element types of properties (and of the typed views below). */
typedef enum vls_dtype {
    VLS_DT_F32 = 1,  /* float */
    VLS_DT_F64 = 2,  /* double */
    VLS_DT_I32 = 3,  /* int32_t */
    VLS_DT_I64 = 4,  /* int64_t */
    VLS_DT_BOOL = 5, /* uint8_t, 0 or 1 */
    VLS_DT_STR = 6   /* strings (see vls_prop.data) */
} vls_dtype;

/* vls_prop.kind */
#define VLS_PROP_PLAIN 0 /* the elements are the value */
#define VLS_PROP_JSON 1  /* one string holding a JSON document (nested lists, dicts, null, ...) */

/* Most dimensions a property may have. */
#define VLS_PROP_MAX_NDIM 16

/*! vls_prop :
 *  One named property of a frame: a scalar (ndim 0, count 1) or a row-major array of
 *  shape[0..ndim) (count = the product of the dimensions). Per-atom properties have
 *  ndim >= 1 and shape[0] == nsites.
 *  As encoder input: name points to name_len bytes (name_len >= 1); data points to `count`
 *  elements of `dtype`, except for VLS_DT_STR, where data is a `const char *const *` array of
 *  `count` NUL-terminated strings; data may be NULL when count == 0. strings_ must be NULL.
 *  (A view can also be given to the encoder as it is: it re-encodes with its properties.)
 *  As output of vls_frame_prop() on a view: every pointer points into the viewed buffer
 *  (name is NUL-terminated); for VLS_DT_STR read the strings with vls_prop_string().
 *  Typed pointers are aligned for their type whenever the view's `aligned` is 1. */
typedef struct vls_prop {
    const char *name;
    size_t name_len;
    int dtype;            /* vls_dtype */
    int kind;             /* VLS_PROP_PLAIN or VLS_PROP_JSON (JSON: dtype STR, ndim 0) */
    int ndim;             /* 0 .. VLS_PROP_MAX_NDIM */
    const int32_t *shape; /* ndim dimensions (NULL when ndim == 0) */
    const void *data;     /* count elements (see above) */
    size_t count;
    const void *strings_; /* view output only: the string offsets (use vls_prop_string) */
} vls_prop;

/*! vls_frame :
 *  Encoder input and view output. Arrays are row-major (site-major: x0 y0 z0 x1 y1 z1 ...).
 *  Lengths: types, masses, charges : nsites;  positions, forces : nsites * ncodim;
 *           cell, stress : 9 (3x3, row-major; the rows of `cell` are the lattice vectors a, b, c);
 *           pbc : 3 (nonzero = periodic along a, b, c).
 *  Precision: masses, positions, forces, cell, stress and charges each come as float32
 *  (`positions`) or float64 (`positions64`). The encoder writes what it is given, never
 *  narrowing; give at most one of each pair (both: VLS_E_INVAL). A view sets the pointer of
 *  the stored precision and leaves the other NULL.
 *  Optional parts: forces, cell, pbc, charges, stress are NULL when absent; energy is present
 *  iff has_energy != 0.
 *  As encoder input, types and masses(64) and positions(64) may be NULL only when
 *  nsites == 0; name may be NULL (no name field is written) or point to name_len bytes (need
 *  not be NUL-terminated). props[0..nprops) are the per-frame properties and
 *  atom_props[0..natom_props) the per-atom ones (names unique within each list).
 *  As view output, every pointer points into the viewed buffer (nothing is copied, nothing is
 *  allocated); the view is valid as long as that buffer is. name is never NULL in a view (an
 *  absent name reads as "", name_len 0) and is NUL-terminated; it may contain NUL bytes, so
 *  name_len is authoritative. A view sets nprops / natom_props and leaves props / atom_props
 *  NULL: read the properties with vls_frame_prop() / vls_frame_find_prop().
 *  The caller allocates it (on the stack, usually), so its size is part of the ABI: a release
 *  that adds fields changes the SONAME (vlstore.h, version policy) and programs are rebuilt;
 *  nothing here promises binary compatibility across such a change. Always start from
 *  vls_frame_init(), so that source code keeps compiling and keeps meaning the same thing
 *  when fields are added: init sets every field, new ones included, to "absent". */
typedef struct vls_frame {
    const char *name;        /* frame name, name_len bytes */
    size_t name_len;
    int32_t nsites;          /* number of sites, >= 0 */
    int32_t ncodim;          /* coordinates per site, >= 1 (3 for ordinary space) */
    const int32_t *types;    /* nsites site types (atomic numbers for XYZ input) */
    const float *masses;     /* nsites masses (daltons for XYZ input) */
    const float *positions;  /* nsites * ncodim */
    const float *forces;     /* nsites * ncodim, or NULL */
    int32_t has_energy;      /* nonzero: `energy` is set */
    int32_t aligned;         /* view output only: 1 when every array pointer is aligned for its
                              * element type (see vls_frame_is_aligned()), 0 when the arrays
                              * must be read with memcpy. Ignored by the encoder. */
    double energy;           /* total potential energy, meaningful when has_energy */
    const float *cell;       /* 9 values, or NULL */
    const uint8_t *pbc;      /* 3 values, or NULL */
    const float *charges;    /* nsites values, or NULL */
    const float *stress;     /* 9 values, or NULL */
    /* ---- frame format v2 ---- */
    const double *positions64; /* float64 twins of the arrays above (see "Precision") */
    const double *forces64;
    const double *cell64;
    const double *stress64;
    const double *masses64;
    const double *charges64;
    const vls_prop *props;      /* encoder input: per-frame properties */
    size_t nprops;
    const vls_prop *atom_props; /* encoder input: per-atom properties */
    size_t natom_props;
    const void *prop_tables_[2]; /* view output only: where the property tables are */
} vls_frame;

/*! vls_frame_init() : sets every field to "absent": NULL pointers, zero counts, ncodim 3,
 *  no energy. */
VLS_API void vls_frame_init(vls_frame *f);

/*-*************************************
 *  Encoding
 ***************************************/

/* Largest encoded frame: FlatBuffers offsets are 32-bit signed-safe, so a buffer is < 2 GiB. */
#define VLS_FRAME_MAX_SIZE 0x7FFFFFF8u

/*! vls_frame_encoded_size() :
 *  The exact number of bytes vls_frame_encode() writes for `f` (always a multiple of 4).
 *  Cost: O(1).
 * @return : the size, or 0 when `f` is not encodable (see vls_frame_encode's VLS_E_INVAL and
 *           VLS_E_TOOBIG cases). */
VLS_API size_t vls_frame_encoded_size(const vls_frame *f);

/*! vls_frame_encode() :
 *  Writes `f` as a FlatBuffer (root table FBSites.FBFrame) into buf[0..cap) and sets *len to
 *  the number of bytes written. The layout is computed forward (no back-to-front builder): a
 *  root offset, the vtable, the table, then the name, the small optional vectors and the large
 *  arrays, each copied with one memcpy. Padding bytes are zero, so equal frames encode to equal
 *  bytes. The output ends exactly at the last element of `positions`.
 *  Alignment: offsets inside the buffer are aligned as FlatBuffers requires (relative to the
 *  buffer start: 8 for energy, 4 for vector lengths and float/int32 elements). buf itself may
 *  have any alignment (everything is written with memcpy); to view the result in place later,
 *  give a buffer aligned to 8 bytes (malloc's are).
 *  Ownership: nothing retained. Cost: one pass over the arrays (memcpy speed).
 * @return : VLS_OK; VLS_E_TOOSMALL when cap < the size needed, which is then stored in *len
 *           (nothing useful is written); VLS_E_INVAL when f/len is NULL, nsites < 0,
 *           ncodim < 1, a required array is NULL while nsites > 0, or name is NULL with
 *           name_len > 0; VLS_E_TOOBIG when the frame would exceed VLS_FRAME_MAX_SIZE. */
VLS_API int vls_frame_encode(const vls_frame *f, void *buf, size_t cap, size_t *len);

/*! vls_frame_encode_alloc() :
 *  Like vls_frame_encode() into a buffer it allocates with malloc() (so 16-byte aligned, and
 *  viewable in place). On success *out owns that buffer: release it with free() (vls_free()
 *  does the same). On failure *out is NULL.
 * @return : VLS_OK, VLS_E_INVAL, VLS_E_TOOBIG, or VLS_E_NOMEM. */
VLS_API int vls_frame_encode_alloc(const vls_frame *f, void **out, size_t *len);

/*-*************************************
 *  Verifying and viewing
 ***************************************/

/*! vls_frame_verify() :
 *  Checks that buf[0..len) is a well-formed FBFrame that vls_frame_view() can expose safely:
 *  every offset, vtable, table, field, vector and string lies inside the buffer and is aligned
 *  (relative to the buffer start) as FlatBuffers requires; the name is NUL-terminated; and the
 *  frame is consistent (nsites >= 0, ncodim >= 1, types/masses/positions hold nsites /
 *  nsites*ncodim elements, forces and charges are absent or of the right length, cell and
 *  stress absent or 9 values, pbc absent or 3, at most one precision of each array). Every
 *  property table, name, shape, data vector and string is checked the same way: exactly one
 *  typed vector, shape dimensions >= 0 whose product is the element count, per-atom
 *  properties with shape[0] == nsites. Fields unknown to this version (appended by a newer
 *  schema) are ignored. Bytes after the frame's last structure are allowed.
 *  Never reads outside buf[0..len), whatever the bytes; buf may have any alignment.
 *  Cost: O(number of fields + properties + strings), independent of numeric array sizes.
 *  On failure the first problem found is described in the calling thread's handle-less
 *  message, vls_errmsg(NULL) ("positions: 21 floats, expected nsites*ncodim = 24"); success
 *  leaves that message alone and costs nothing extra.
 * @return : VLS_OK; VLS_E_TRUNCATED when a structure extends past len (typically a cut-off
 *           buffer); VLS_E_CORRUPT for any other malformation; VLS_E_INVAL when buf is NULL
 *           with len > 0. */
VLS_API int vls_frame_verify(const void *buf, size_t len);

/*! vls_frame_view() :
 *  Verifies buf[0..len) (as vls_frame_verify) and fills *out with pointers into it. Nothing is
 *  copied but the scalars (nsites, ncodim, energy). Absent vectors give NULL pointers, except
 *  that an absent types/masses/positions (allowed only when nsites == 0) also gives NULL.
 *  out->aligned tells whether the arrays may be read through their typed pointers: it is 1
 *  whenever buf is 8-byte aligned, and when buf is 4-byte aligned and the frame has no
 *  64-bit arrays. Records returned back to back by a store can land at any
 *  address; when out->aligned == 0, copy the record to an aligned buffer first (see
 *  vls_frame_view_aligned) or read the arrays with memcpy.
 *  Ownership: *out borrows buf. Cost: O(number of fields).
 * @return : as vls_frame_verify (the detail in vls_errmsg(NULL)); on failure *out is reset
 *           by vls_frame_init(). */
VLS_API int vls_frame_view(const void *buf, size_t len, vls_frame *out);

/*! vls_frame_is_aligned() :
 *  @return : 1 when buf is 4-byte aligned, else 0. That is enough for typed access to a
 *  frame whose arrays are all 32-bit (every v1 frame); a frame holding float64 or int64
 *  arrays needs 8-byte alignment, which vls_frame_view() reports in `aligned`. 8-byte
 *  alignment is recommended anyway (FlatBuffers libraries may read the double in place). */
VLS_API int vls_frame_is_aligned(const void *buf);

/*! vls_frame_view_aligned() :
 *  Views buf in place when it is aligned for this frame's arrays; otherwise copies buf[0..len) into scratch (which must
 *  be 8-byte aligned and hold len bytes) and views the copy, so *out always has aligned == 1.
 *  *out then borrows buf or scratch.
 * @return : as vls_frame_view; VLS_E_TOOSMALL when a copy is needed and scratch_cap < len;
 *           VLS_E_INVAL when a copy is needed and scratch is NULL or not 8-byte aligned. */
VLS_API int vls_frame_view_aligned(const void *buf, size_t len, void *scratch,
                                   size_t scratch_cap, vls_frame *out);

/*-*************************************
 *  Properties
 ***************************************/

/*! vls_frame_prop() :
 *  Fills *out with property i of `f` (per_atom 0: the per-frame list, 1: the per-atom list),
 *  for encoder input and views alike. Cost: O(1). Ownership: *out borrows f's memory.
 * @return : VLS_OK; VLS_E_NOTFOUND when i is past the end; VLS_E_INVAL for NULL arguments. */
VLS_API int vls_frame_prop(const vls_frame *f, int per_atom, size_t i, vls_prop *out);

/*! vls_frame_find_prop() :
 *  Looks a property up by name (exact bytes) in one list. Cost: O(number of properties).
 * @return : VLS_OK; VLS_E_NOTFOUND; VLS_E_INVAL. */
VLS_API int vls_frame_find_prop(const vls_frame *f, int per_atom, const char *name,
                                vls_prop *out);

/*! vls_prop_string() :
 *  String element i of a VLS_DT_STR property (encoder input or view); *len (if not NULL)
 *  receives its length. @return : the NUL-terminated string, or NULL when p is not a string
 *  property or i >= count. */
VLS_API const char *vls_prop_string(const vls_prop *p, size_t i, size_t *len);

/*! vls_frame_real() :
 *  Element i of whichever array of a float32/float64 pair is set (f->positions or
 *  f->positions64, ...), as a double; 0 when both are NULL. Reads with memcpy, so views with
 *  aligned == 0 work too. For code that takes frames of either precision. */
VLS_API double vls_frame_real(const float *f32, const double *f64, size_t i);

/*! vls_dtype_size() : bytes per element of a numeric dtype (4, 8 or 1); 0 for VLS_DT_STR and
 *  unknown values. */
VLS_API size_t vls_dtype_size(int dtype);

/*! vls_dtype_name() : "float32", "float64", "int32", "int64", "bool", "str"; "?" otherwise. */
VLS_API const char *vls_dtype_name(int dtype);

/*! vls_frame_write_json() :
 *  Prints `f` to `out` as one JSON object with flatc's field names (name, nsites, ncodim,
 *  types, masses, positions, forces, energy, cell, pbc, charges, stress, the *64 twins, and
 *  properties / atom_properties as lists of {name, shape, kind, f32|f64|i32|i64|b|s});
 *  absent optional fields are omitted. float32 values are printed with 9 significant digits
 *  (round-trips float32), float64 ones with 17, always with '.' as the decimal point (the C
 *  locale, whatever LC_NUMERIC the program set). NaN and infinities, which JSON cannot hold as
 *  numbers, are written as the strings "NaN", "Infinity" and "-Infinity" (valid JSON).
 *  `f` may be a view with aligned == 0. Flags: VLS_JSON_COMPACT puts it all on one line.
 *  Threads: any; the calling thread's locale is switched for the call and restored.
 * @return : VLS_OK; VLS_E_IO when writing failed; VLS_E_NOMEM if the C locale could not be made. */
#define VLS_JSON_COMPACT 0x1u
VLS_API int vls_frame_write_json(FILE *out, const vls_frame *f, unsigned flags);

/*-*************************************
 *  Elements
 ***************************************/

/* Highest atomic number known (Og). */
#define VLS_ELEMENT_MAX 118

/*! vls_element_number() :
 *  Atomic number of the element named by sym[0..len) ("Fe"). Matching: exact symbol first,
 *  then case-insensitively ("FE", "fe"), then as a label of a symbol followed by digits
 *  ("C01", "H1", "Ca2"). "X" (a dummy site) is 0.
 * @return : 0..VLS_ELEMENT_MAX, or -1 when not an element. */
VLS_API int vls_element_number(const char *sym, size_t len);

/*! vls_element_symbol() : "H" for 1 ... "Og" for 118, "X" for 0; NULL outside 0..118. */
VLS_API const char *vls_element_symbol(int z);

/*! vls_element_mass() :
 *  Standard atomic weight of element z in daltons (IUPAC 2021, abridged; for elements with no
 *  stable isotope the mass number of the longest-lived isotope; see docs/FRAME.md). 0 for z = 0
 *  and outside 1..118. */
VLS_API double vls_element_mass(int z);

/*-*************************************
 *  XYZ and extended-XYZ parser
 ***************************************/

/*! vls_xyz :
 *  A streaming reader of multi-frame XYZ files. Each vls_xyz_next() reads one frame (an atom
 *  count line, a comment line, then one line per atom) and exposes it as a vls_frame whose
 *  arrays and properties are owned by the parser and valid until the next vls_xyz_next() or
 *  vls_xyz_close(). Nothing is dropped silently: the comment line is split and typed the way
 *  ASE's extxyz reader does it (int64, float64, bool, string or JSON values; 3x3 matrices for
 *  virial), Lattice / pbc / the energy key / the stress key / Properties become the frame's
 *  core fields, and every other key becomes a per-frame property; every Properties column
 *  other than species/Z/pos/forces/charges becomes a per-atom property (R: float, I: int32,
 *  L: bool, S: string). See docs/FRAME.md for the rules. Memory use is that of one frame.
 *  Numbers are read in the C locale ('.' decimal point) whatever setlocale() set.
 *  Threads: one thread at a time per parser. */
typedef struct vls_xyz vls_xyz;
/*! vls_xyz_open() :
 *  Opens the file at `path` for reading ("-" is not special). *out receives the parser.
 * @return : VLS_OK; VLS_E_IO when the file cannot be opened; VLS_E_INVAL; VLS_E_NOMEM. *out
 *           is then NULL and vls_xyz_errmsg(NULL) says what failed ("water.xyz: No such file
 *           or directory"). */
VLS_API int vls_xyz_open(const char *path, vls_xyz **out);

/*! vls_xyz_open_file() :
 *  Reads from an open stream, which the parser does not close. `display_name` (may be NULL:
 *  "<stream>") names it in error messages. */
VLS_API int vls_xyz_open_file(FILE *fp, const char *display_name, vls_xyz **out);

/*! vls_xyz_open_mem() :
 *  Reads data[0..len), which must stay valid until vls_xyz_close() (it is not copied).
 *  `display_name` (may be NULL: "<memory>") names it in error messages. */
VLS_API int vls_xyz_open_mem(const void *data, size_t len, const char *display_name,
                             vls_xyz **out);

/*! vls_xyz_set_keys() :
 *  Which comment-line key holds the energy and which Properties column holds the forces, for
 *  data sets that use other names. NULL restores the default: the energy is the key "energy",
 *  else "REF_energy", else "energy" in any letter case; the forces are the column "forces",
 *  else "REF_forces", else "force". Given names are matched exactly (case-sensitive) and
 *  copied. When the energy (or stress) comes from a key other than "energy" ("stress"), the
 *  frame gets the string property "vlstore:energy_key" ("vlstore:stress_key") naming it, so
 *  writers can put it back where it was. Call before vls_xyz_next.
 * @return : VLS_OK, VLS_E_INVAL, VLS_E_NOMEM. */
VLS_API int vls_xyz_set_keys(vls_xyz *p, const char *energy_key, const char *forces_key);

/*! vls_xyz_set_stress_key() :
 *  The comment-line key of the stress (9 numbers, or 6 in Voigt order xx yy zz yz xz xy).
 *  NULL restores the default: "stress", else "REF_stress", else "stress" in any letter case.
 * @return : VLS_OK, VLS_E_INVAL, VLS_E_NOMEM. */
VLS_API int vls_xyz_set_stress_key(vls_xyz *p, const char *stress_key);

/*! vls_xyz_set_precision() :
 *  32 (the default): real columns, cell and stress are given as float32 (positions, ...);
 *  64: as float64 (positions64, ..., and float64 per-atom properties), so the numbers of the
 *  file reach the frame without rounding. Comment-line numbers are float64 either way.
 * @return : VLS_OK, or VLS_E_INVAL for other values. */
VLS_API int vls_xyz_set_precision(vls_xyz *p, int bits);

/*! vls_xyz_next() :
 *  Reads the next frame into *out (see vls_xyz for the lifetime of its arrays). Blank lines
 *  between frames and at the end of the file are skipped. The frame's name is the comment
 *  line's `name=` value when present, else "frame_<index>" with the 0-based index in the file.
 *  ncodim is always 3. types are atomic numbers (from the species column, or the Z column when
 *  there is one); masses come from a `masses`/`mass` column when there is one (which is also
 *  kept as a per-atom property, as ASE keeps it in atoms.arrays), else from the element table.
 * @return : 1 when a frame was read; 0 at the end of the input; a negative code on error:
 *           VLS_E_CORRUPT for a syntax error (vls_xyz_errmsg() says
 *           "water.xyz:14: expected 4 columns (species pos), got 2"), VLS_E_IO for a read
 *           error, VLS_E_NOMEM, VLS_E_TOOBIG for an atom count beyond 2^31-1 or beyond what
 *           a frame can encode. After an error every later call returns the same error. */
VLS_API int vls_xyz_next(vls_xyz *p, vls_frame *out);

/*! vls_xyz_errmsg() :
 *  The detail of the last failure on the parser ("" when none); with p == NULL, of the
 *  calling thread's last failure without a handle (a failed vls_xyz_open*: see vlstore.h,
 *  Conventions). Owned by the parser, unchanged until its next failure or vls_xyz_close()
 *  (successful calls leave it alone). Never NULL. */
VLS_API const char *vls_xyz_errmsg(const vls_xyz *p);

/*! vls_xyz_dropped() : what the last frame read could not keep ("" when nothing was
 *  dropped), e.g. extra columns of a plain XYZ file. Owned by the parser. Never NULL. */
VLS_API const char *vls_xyz_dropped(const vls_xyz *p);

/*! vls_xyz_comment() : the comment line of the last frame read (without its newline). Owned
 *  by the parser, valid until the next vls_xyz_next(). Never NULL. */
VLS_API const char *vls_xyz_comment(const vls_xyz *p);

/*! vls_xyz_line() : the number of the last line read (1-based; 0 before the first). */
VLS_API long vls_xyz_line(const vls_xyz *p);

/*! vls_xyz_close() : releases the parser and its arrays; closes the file vls_xyz_open()
 *  opened. vls_xyz_close(NULL) does nothing. */
VLS_API void vls_xyz_close(vls_xyz *p);

#ifdef __cplusplus
}
#endif

#endif /* VLSTORE_FRAME_H */
