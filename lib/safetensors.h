/* safetensors.h - a model as a safetensors file (https://github.com/huggingface/safetensors),
 * for PyTorch and Keras. Written by charpipe's own code; the layouts are documented in
 * lib/EXPORT.md.
 *
 * The file: an unsigned 64-bit little-endian N, then N bytes of a JSON object (padded with
 * spaces so that the data starts at a multiple of 8), then the raw little-endian data. The
 * object maps each tensor name to {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}
 * (offsets into the data, which the tensors cover without holes, in the order written), and
 * "__metadata__" to an object of strings: the vocabulary, the model's shape and the training
 * settings. The optimizer state is never written.
 */
#ifndef CHARPIPE_SAFETENSORS_H
#define CHARPIPE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

/* One float32 tensor to write: rank 1 or 2. */
typedef struct st_tensor {
    const char *name;
    int rank;
    uint64_t shape[2];
    const float *data;                /* shape[0] (* shape[1]) floats, row-major */
} st_tensor;

/* One metadata entry; both strings are written JSON-escaped. */
typedef struct st_meta {
    const char *key, *value;
} st_meta;

/* The largest header safetensors readers take (the reference implementation's limit). */
#define ST_MAX_HEADER 100000000

/* Write a safetensors file of the n tensors t (data in that order) and the nm metadata
 * entries to fd. Returns 0, or -1 with a message in err (label names the output). What
 * safetensors readers refuse is refused before anything is written: a name, metadata key or
 * value that is not UTF-8, a tensor named __metadata__, two tensors or two metadata keys of
 * one name, a rank other than 1 or 2, a header larger than ST_MAX_HEADER. */
int st_write(int fd, const char *label, const st_tensor *t, int n, const st_meta *meta, int nm,
             char *err, size_t cap);

enum { ST_LAYOUT_TORCH, ST_LAYOUT_KERAS };

/* Write model m (with the training settings of s, when not NULL) to fd as safetensors in
 * the layout ST_LAYOUT_TORCH (nn.LSTM / nn.GRU + nn.Linear state_dict names and shapes;
 * the lnlstm under its own names) or ST_LAYOUT_KERAS (the model file's names and Keras's
 * shapes, in set_weights order). Returns 0, or -1 with a message in err. */
int st_write_model(const model *m, const train_state *s, int layout, int fd, const char *label,
                   char *err, size_t cap);

#endif
