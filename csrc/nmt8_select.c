/*
 * nmt8_select.c -- the best extensions of every sentence (nmt8_select.h).
 * The float64 and float32 operations are those of the numpy reference,
 * in the same order, so the choice and the scores are the same bits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nmt8_attention.h"
#include "nmt8_internal.h"
#include "nmt8_select.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MAX_WANTS 64

typedef struct {
    double score;
    int64_t row, word;
} cand;

/* the kept list: at most k entries, best first, ties by (row, word);
 * candidates arrive in increasing (row, word), so a tie ranks last */
typedef struct {
    cand c[MAX_WANTS];
    int64_t n, k;
} kept;

static void keep(kept *K, double s, int64_t r, int64_t w)
{
    if (K->n == K->k && !(s > K->c[K->n - 1].score))
        return;
    int64_t i = K->n < K->k ? K->n++ : K->k - 1;
    while (i > 0 && s > K->c[i - 1].score) {
        K->c[i] = K->c[i - 1];
        i--;
    }
    K->c[i] = (cand){s, r, w};
}

/* the k-th largest of x (n,) float32, 1 <= k <= n */
static float kth_largest(const float *x, int64_t n, int64_t k)
{
    float top[MAX_WANTS];   /* the k largest so far, descending */
    int64_t have = 0;
    for (int64_t v = 0; v < n; v++) {
        const float a = x[v];
        if (have == k && !(a > top[k - 1]))
            continue;
        int64_t i = have < k ? have++ : k - 1;
        while (i > 0 && a > top[i - 1]) {
            top[i] = top[i - 1];
            i--;
        }
        top[i] = a;
    }
    return top[k - 1];
}

static int cmp_desc(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* offer K the entries of row x (V,) at or above t (float32), scored
 * x[w] + off in double, kept when at or above bound */
typedef void (*scan_fn)(kept *, const float *, int64_t, float, double,
                        double, int64_t);

static void offer(kept *K, const float *x, int64_t w, double off,
                  double bound, int64_t r)
{
    const double s = (double)x[w] + off;
    if (s >= bound)
        keep(K, s, r, w);
}

NMT8_SCALAR static void scan_tail(kept *K, const float *x, int64_t v0,
                                  int64_t V, float t, double off,
                                  double bound, int64_t r)
{
    for (int64_t w = v0; w < V; w++)
        if (x[w] >= t)
            offer(K, x, w, off, bound, r);
}

static void scan_portable(kept *K, const float *x, int64_t V, float t,
                          double off, double bound, int64_t r)
{
    scan_tail(K, x, 0, V, t, off, bound, r);
}

#if defined(__x86_64__)

__attribute__((target("avx2")))
static void scan_avx2(kept *K, const float *x, int64_t V, float t,
                      double off, double bound, int64_t r)
{
    const __m256 vt = _mm256_set1_ps(t);
    int64_t v = 0;
    for (; v + 8 <= V; v += 8) {
        unsigned bits = (unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_loadu_ps(x + v), vt, _CMP_GE_OQ));
        while (bits) {
            offer(K, x, v + __builtin_ctz(bits), off, bound, r);
            bits &= bits - 1;
        }
    }
    scan_tail(K, x, v, V, t, off, bound, r);
}

__attribute__((target("avx512f")))
static void scan_avx512(kept *K, const float *x, int64_t V, float t,
                        double off, double bound, int64_t r)
{
    const __m512 vt = _mm512_set1_ps(t);
    int64_t v = 0;
    for (; v + 16 <= V; v += 16) {
        unsigned bits = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + v), vt,
                                           _CMP_GE_OQ);
        while (bits) {
            offer(K, x, v + __builtin_ctz(bits), off, bound, r);
            bits &= bits - 1;
        }
    }
    scan_tail(K, x, v, V, t, off, bound, r);
}

#endif

/* max of x (V,), as numpy's: NaN if any */
NMT8_SCALAR static float row_max(const float *x, int64_t V)
{
    float m = -INFINITY;
    for (int64_t v = 0; v < V; v++) {
        if (x[v] != x[v])
            return x[v];
        m = x[v] > m ? x[v] : m;
    }
    return m;
}

/* the lower bound of one sentence: rows x (n, V) */
static double sentence_bound(const float *x, const double *off,
                             const float *m, int64_t n, int64_t V, int64_t k,
                             double *scratch)
{
    if (n * V <= k)
        return -INFINITY;               /* every entry is kept */
    if (n >= k) {                       /* the k-th largest row maximum */
        for (int64_t i = 0; i < n; i++)
            scratch[i] = (m ? (double)m[i] : (double)row_max(x + i * V, V))
                         + off[i];
        qsort(scratch, (size_t)n, sizeof *scratch, cmp_desc);
        return scratch[k - 1];
    }
    if (k > V)
        return -INFINITY;
    double best = -INFINITY;            /* fewer rows than wanted */
    for (int64_t i = 0; i < n; i++) {
        const double b = (double)kth_largest(x + i * V, V, k) + off[i];
        best = b > best || i == 0 ? b : best;
    }
    return best;
}

int nmt8_select(int64_t *rows, int64_t *words, double *scores,
                int64_t *n_kept, const float *logp, const double *offset,
                const float *m, const int64_t *counts, const int64_t *wants,
                int64_t G, int64_t P, int64_t V, int isa)
{
    isa = nmt8_resolve(NMT8_FAMILY_FUSED, isa, 0);   /* one of 3 paths */
    if (isa < 0)
        return NMT8_EUNSUPPORTED;
    if (G < 0 || P < 0 || V < 1 || (G > 0 && (!counts || !wants || !n_kept))
        || (P > 0 && (!logp || !offset)))
        return NMT8_EBADARG;
    int64_t total = 0, slots = 0, most = 0;
    for (int64_t g = 0; g < G; g++) {
        if (counts[g] < 0 || wants[g] < 1 || wants[g] > MAX_WANTS)
            return NMT8_EBADARG;
        total += counts[g];
        slots += wants[g];
        most = counts[g] > most ? counts[g] : most;
    }
    if (total != P || (slots > 0 && (!rows || !words || !scores)))
        return NMT8_EBADARG;
    scan_fn scan = scan_portable;
#if defined(__x86_64__)
    if (isa == NMT8_ISA_AVX2)
        scan = scan_avx2;
    if (isa == NMT8_ISA_AVX512)
        scan = scan_avx512;
#endif
    double *scratch = malloc((size_t)(most > 0 ? most : 1) * sizeof(double));
    if (scratch == NULL)
        return NMT8_ENOMEM;
    int64_t r0 = 0, slot = 0;
    for (int64_t g = 0; g < G; g++) {
        const int64_t n = counts[g], k = wants[g];
        const float *x = logp + r0 * V;
        const double *off = offset + r0;
        const double bound = sentence_bound(x, off, m ? m + r0 : NULL, n, V,
                                            k, scratch);
        kept K = {.n = 0, .k = k};
        for (int64_t i = 0; i < n; i++) {
            /* in logp's units, a little lower in float32, so that no
             * candidate is lost to rounding (as the reference) */
            const double thr = bound - off[i];
            const float t = (float)(thr - 1e-6 * (1.0 + fabs(thr)));
            scan(&K, x + i * V, V, t, off[i], bound, i);
        }
        for (int64_t j = 0; j < K.n; j++) {
            rows[slot + j] = K.c[j].row;
            words[slot + j] = K.c[j].word;
            scores[slot + j] = K.c[j].score;
        }
        n_kept[g] = K.n;
        slot += k;
        r0 += n;
    }
    free(scratch);
    return NMT8_OK;
}
