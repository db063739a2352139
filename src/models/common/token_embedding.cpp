#include "models/common/token_embedding.h"

#include "runtime/error.h"

namespace diffuse::models {

Tensor lookup_token_embeddings(const Tensor& table, const Tensor& ids, const std::string& model) {
  DIFFUSE_CHECK(table.ndim() == 2 && ids.ndim() == 2, model, ": embedding lookup needs a [vocab, hidden] table and [B, S] ids");
  const int64_t vocab = table.dim(0);
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  Tensor h = Tensor::empty({batch, len, table.dim(1)}, DType::F32);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < len; ++j) {
      const int64_t id = static_cast<int64_t>(ids.item({b, j}));
      DIFFUSE_CHECK(id >= 0 && id < vocab, model, ": input_ids[", b, ", ", j, "] = ", id,
                    " is outside the vocabulary [0, ", vocab, ")");
      h.select(0, b).select(0, j).copy_from(table.select(0, id));
    }
  return h;
}

}  // namespace diffuse::models
