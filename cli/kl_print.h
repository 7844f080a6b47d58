/* kl_print: the KL statistics of a ppl_result as llama.cpp's
 * llama-perplexity --kl-divergence prints them (text), and as JSON, for
 * `qlens ppl` and `qlens quant`. */
#ifndef QLENS_KL_PRINT_H
#define QLENS_KL_PRINT_H

#include <stdio.h>

#include "src/ppl.h"

/* The three blocks "Perplexity statistics", "KL divergence statistics",
 * "Token probability statistics" with llama.cpp's labels and ± values. */
void kl_print_text(FILE *f, const struct ppl_result *r);
/* ,"KEY":{...} (a leading comma: a member of an object being written);
 * base_file names a llama.cpp --kl-divergence-base file or is NULL. */
void kl_print_json(FILE *f, const char *key, const struct ppl_result *r, const char *base_file);

#endif
