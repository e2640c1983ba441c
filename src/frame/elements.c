/*
 * elements.c — chemical element symbols and standard atomic weights (vls_element_*).
 *
 * Masses: standard atomic weights in daltons, abridged to five significant digits, as
 * published by the IUPAC Commission on Isotopic Abundances and Atomic Weights (CIAAW),
 * "Standard atomic weights of the elements 2021", T. Prohaska et al., Pure Appl. Chem. 94
 * (2022) 573-600, Table 2 (abridged values; for elements whose weight is given as an interval
 * the conventional/abridged single value is used, e.g. H 1.0080, C 12.011, Cl 35.45).
 * Elements with no stable isotope and no standard atomic weight (Tc, Pm, Po..Ac, Np..Og) get
 * the mass number of their longest-lived known isotope, as periodic tables print in brackets.
 * The values were typed from that table for this file; tests/test_xyz.c spot-checks them.
 *
 * Depends on: the C library only.
 */
#include "vlstore_frame.h"

#include <string.h>

typedef struct {
    char sym[4];
    double mass;
} element;

/* Index = atomic number; entry 0 is the dummy site "X". */
static const element elements[VLS_ELEMENT_MAX + 1] = {
    {"X", 0.0},
    {"H", 1.0080},     {"He", 4.0026},    {"Li", 6.94},      {"Be", 9.0122},
    {"B", 10.81},      {"C", 12.011},     {"N", 14.007},     {"O", 15.999},
    {"F", 18.998},     {"Ne", 20.180},    {"Na", 22.990},    {"Mg", 24.305},
    {"Al", 26.982},    {"Si", 28.085},    {"P", 30.974},     {"S", 32.06},
    {"Cl", 35.45},     {"Ar", 39.95},     {"K", 39.098},     {"Ca", 40.078},
    {"Sc", 44.956},    {"Ti", 47.867},    {"V", 50.942},     {"Cr", 51.996},
    {"Mn", 54.938},    {"Fe", 55.845},    {"Co", 58.933},    {"Ni", 58.693},
    {"Cu", 63.546},    {"Zn", 65.38},     {"Ga", 69.723},    {"Ge", 72.630},
    {"As", 74.922},    {"Se", 78.971},    {"Br", 79.904},    {"Kr", 83.798},
    {"Rb", 85.468},    {"Sr", 87.62},     {"Y", 88.906},     {"Zr", 91.224},
    {"Nb", 92.906},    {"Mo", 95.95},     {"Tc", 97.0},      {"Ru", 101.07},
    {"Rh", 102.91},    {"Pd", 106.42},    {"Ag", 107.87},    {"Cd", 112.41},
    {"In", 114.82},    {"Sn", 118.71},    {"Sb", 121.76},    {"Te", 127.60},
    {"I", 126.90},     {"Xe", 131.29},    {"Cs", 132.91},    {"Ba", 137.33},
    {"La", 138.91},    {"Ce", 140.12},    {"Pr", 140.91},    {"Nd", 144.24},
    {"Pm", 145.0},     {"Sm", 150.36},    {"Eu", 151.96},    {"Gd", 157.25},
    {"Tb", 158.93},    {"Dy", 162.50},    {"Ho", 164.93},    {"Er", 167.26},
    {"Tm", 168.93},    {"Yb", 173.05},    {"Lu", 174.97},    {"Hf", 178.49},
    {"Ta", 180.95},    {"W", 183.84},     {"Re", 186.21},    {"Os", 190.23},
    {"Ir", 192.22},    {"Pt", 195.08},    {"Au", 196.97},    {"Hg", 200.59},
    {"Tl", 204.38},    {"Pb", 207.2},     {"Bi", 208.98},    {"Po", 209.0},
    {"At", 210.0},     {"Rn", 222.0},     {"Fr", 223.0},     {"Ra", 226.0},
    {"Ac", 227.0},     {"Th", 232.04},    {"Pa", 231.04},    {"U", 238.03},
    {"Np", 237.0},     {"Pu", 244.0},     {"Am", 243.0},     {"Cm", 247.0},
    {"Bk", 247.0},     {"Cf", 251.0},     {"Es", 252.0},     {"Fm", 257.0},
    {"Md", 258.0},     {"No", 259.0},     {"Lr", 262.0},     {"Rf", 267.0},
    {"Db", 268.0},     {"Sg", 269.0},     {"Bh", 270.0},     {"Hs", 269.0},
    {"Mt", 278.0},     {"Ds", 281.0},     {"Rg", 282.0},     {"Cn", 285.0},
    {"Nh", 286.0},     {"Fl", 289.0},     {"Mc", 290.0},     {"Lv", 293.0},
    {"Ts", 294.0},     {"Og", 294.0},
};

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }
static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* Exact (case-sensitive) or case-insensitive lookup of a 1..2 letter symbol. */
static int lookup(const char *s, size_t len, int fold) {
    if (len < 1 || len > 2) return -1;
    for (int z = 0; z <= VLS_ELEMENT_MAX; z++) {
        const char *e = elements[z].sym;
        if (strlen(e) != len) continue;
        size_t i = 0;
        for (; i < len; i++) {
            int a = (unsigned char)s[i], b = (unsigned char)e[i];
            if (fold ? lower(a) != lower(b) : a != b) break;
        }
        if (i == len) return z;
    }
    return -1;
}

int vls_element_number(const char *sym, size_t len) {
    if (!sym) return -1;
    int z = lookup(sym, len, 0);
    if (z < 0) z = lookup(sym, len, 1);
    if (z >= 0) return z;
    /* A label: 1-2 letters naming an element, then a suffix of digits and marks ("C01",
     * "Na+", "H2'"). The suffix must not contain letters. */
    size_t k = 0;
    while (k < len && is_alpha((unsigned char)sym[k])) k++;
    if (k == 0 || k > 2 || k == len) return -1;
    for (size_t i = k; i < len; i++) {
        int c = (unsigned char)sym[i];
        if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '_' || c == '\'' ||
              c == '*'))
            return -1;
    }
    z = lookup(sym, k, 0);
    return z >= 0 ? z : lookup(sym, k, 1);
}

const char *vls_element_symbol(int z) {
    return (z >= 0 && z <= VLS_ELEMENT_MAX) ? elements[z].sym : NULL;
}

double vls_element_mass(int z) {
    return (z >= 1 && z <= VLS_ELEMENT_MAX) ? elements[z].mass : 0.0;
}
