#include "models/common/linear_kind.h"

#include <vector>

namespace diffuse::models {

namespace {

struct Rule {
  // Dot-separated segments matched against the name's last segments; within a segment one '*'
  // matches any run of characters ("norm*" matches "norm1_context", "*" any whole segment).
  const char* pattern;
  LinearKind kind;
};

// The one rule table. Order matters only where patterns overlap; first match wins.
constexpr Rule kRules[] = {
    // adaLN modulation: FLUX/Chroma norm1(.context).linear, single-block norm.linear,
    // norm_out.linear; Qwen-Image img_mod.1 / txt_mod.1.
    {"norm*.linear", LinearKind::Modulation},
    {"img_mod.*", LinearKind::Modulation},
    {"txt_mod.*", LinearKind::Modulation},
    // q / k / v: diffusers attention (to_q, add_q_proj, fused to_qkv / qkv), CLIP and decoder
    // LLMs (q_proj), T5 (SelfAttention.q).
    {"to_q", LinearKind::Qkv},
    {"to_k", LinearKind::Qkv},
    {"to_v", LinearKind::Qkv},
    {"to_qkv", LinearKind::Qkv},
    {"qkv", LinearKind::Qkv},
    {"add_*_proj", LinearKind::Qkv},
    {"q_proj", LinearKind::Qkv},
    {"k_proj", LinearKind::Qkv},
    {"v_proj", LinearKind::Qkv},
    {"SelfAttention.q", LinearKind::Qkv},
    {"SelfAttention.k", LinearKind::Qkv},
    {"SelfAttention.v", LinearKind::Qkv},
    // Attention output: diffusers to_out.0 / to_add_out, decoder LLM o_proj, CLIP
    // self_attn.out_proj, T5 SelfAttention.o. (A bare "out_proj" is something else, e.g. the
    // Chroma approximator's.)
    {"to_out.0", LinearKind::OutProj},
    {"to_add_out", LinearKind::OutProj},
    {"o_proj", LinearKind::OutProj},
    {"self_attn.out_proj", LinearKind::OutProj},
    {"SelfAttention.o", LinearKind::OutProj},
    // FFN in: diffusers FeedForward net.0(.proj) under ff / ff_context / *mlp, the FLUX single
    // block's proj_mlp, LLM gate_proj / up_proj, CLIP mlp.fc1, T5 wi / wi_0 / wi_1.
    {"ff*.net.0.proj", LinearKind::FfnUp},
    {"*mlp.net.0.proj", LinearKind::FfnUp},
    {"*mlp.net.0", LinearKind::FfnUp},
    {"proj_mlp", LinearKind::FfnUp},
    {"gate_proj", LinearKind::FfnUp},
    {"up_proj", LinearKind::FfnUp},
    {"mlp.fc1", LinearKind::FfnUp},
    {"wi", LinearKind::FfnUp},
    {"wi_*", LinearKind::FfnUp},
    // FFN out: FeedForward net.2, LLM down_proj, CLIP mlp.fc2, T5 wo, and the FLUX single
    // block's proj_out (it also folds in the attention output projection, but most of its
    // input width is the MLP's). The model-level proj_out is not in a single block: Other.
    {"ff*.net.2", LinearKind::FfnDown},
    {"*mlp.net.2", LinearKind::FfnDown},
    {"down_proj", LinearKind::FfnDown},
    {"mlp.fc2", LinearKind::FfnDown},
    {"wo", LinearKind::FfnDown},
    {"single_transformer_blocks.*.proj_out", LinearKind::FfnDown},
};

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

bool segment_matches(std::string_view pattern, std::string_view segment) {
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == segment;
  const std::string_view head = pattern.substr(0, star), tail = pattern.substr(star + 1);
  return segment.size() >= head.size() + tail.size() && segment.substr(0, head.size()) == head &&
         segment.substr(segment.size() - tail.size()) == tail;
}

bool rule_matches(const std::vector<std::string_view>& pattern, const std::vector<std::string_view>& name) {
  if (pattern.size() > name.size()) return false;
  const size_t offset = name.size() - pattern.size();
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (!segment_matches(pattern[i], name[offset + i])) return false;
  }
  return true;
}

}  // namespace

LinearKind linear_kind_from_name(std::string_view name) {
  const std::vector<std::string_view> segments = split(name);
  for (const Rule& r : kRules) {
    if (rule_matches(split(r.pattern), segments)) return r.kind;
  }
  return LinearKind::Other;
}

const char* linear_kind_scope_name(LinearKind kind) {
  switch (kind) {
    case LinearKind::Qkv: return "gemm.qkv";
    case LinearKind::OutProj: return "gemm.out_proj";
    case LinearKind::FfnUp: return "gemm.ffn_up";
    case LinearKind::FfnDown: return "gemm.ffn_down";
    case LinearKind::Modulation: return "gemm.modulation";
    case LinearKind::Other: return "gemm.other";
  }
  return "gemm.other";
}

}  // namespace diffuse::models
