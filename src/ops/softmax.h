// Softmax / log-softmax over the last dim of f32 tensors (numerically stable: the row maximum is
// subtracted first). For finite rows this matches torch.softmax up to exp's few-ulp error.
// Rows whose entries are all -inf (fully masked) give all zeros here, where torch gives NaN;
// log_softmax gives -inf for them. A +inf or NaN entry makes the row NaN, as in torch.
#pragma once

#include "tensor/tensor.h"

namespace diffuse::ops {

// x: f32 with a contiguous last dim (leading dims may be strided); result contiguous.
Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);

// In place on a writable f32 view with a contiguous last dim.
void softmax_inplace(Tensor& x);

}  // namespace diffuse::ops
