// Token-band sliding-window attention (Longformer's local attention, ModernBERT's local layers): the dense
// reference against a scalar loop, the blocked version against the reference (values and gradients).
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "longqa/banded_attention.h"

namespace la = longqa::attention;

namespace {

la::BandedInputs make_inputs(int64_t B, int64_t H, int64_t n, int64_t dh, int64_t radius, int64_t G,
                             const std::vector<int64_t>& lengths, uint64_t seed, torch::ScalarType dtype = torch::kFloat) {
  torch::manual_seed(static_cast<int64_t>(seed));
  const auto opt = torch::TensorOptions().dtype(dtype);
  la::BandedInputs in;
  in.q = torch::randn({B, H, n, dh}, opt);
  in.k = torch::randn({B, H, n, dh}, opt);
  in.v = torch::randn({B, H, n, dh}, opt);
  const auto valid = torch::arange(n).view({1, n}) < torch::tensor(lengths, torch::kLong).view({-1, 1});
  in.query_valid = valid;
  // Some real keys are taken out of the band (as Longformer's global tokens are).
  in.key_mask = valid.logical_and(torch::rand({B, n}) > 0.15);
  in.radius = radius;
  in.scale = 1.0 / std::sqrt(static_cast<double>(dh));
  if (G > 0) {
    in.extra_k = torch::randn({B, H, G, dh}, opt);
    in.extra_v = torch::randn({B, H, G, dh}, opt);
    in.extra_valid = torch::arange(G).view({1, G}) < torch::randint(1, G + 1, {B, 1});
  }
  return in;
}

}  // namespace

TEST_CASE("banded reference equals a scalar loop over the definition", "[attention][banded]") {
  const auto in = make_inputs(2, 2, 23, 4, 3, 2, {23, 17}, 5);
  const auto out = la::banded_attention_reference(in);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 23; ++i) {
        std::vector<double> scores;
        std::vector<torch::Tensor> values;
        for (int64_t g = 0; g < 2; ++g)
          if (in.extra_valid[b][g].item<bool>()) {
            scores.push_back((in.q[b][h][i] * in.extra_k[b][h][g]).sum().item<double>() * in.scale);
            values.push_back(in.extra_v[b][h][g]);
          }
        for (int64_t j = std::max<int64_t>(0, i - 3); j <= std::min<int64_t>(22, i + 3); ++j)
          if (in.key_mask[b][j].item<bool>()) {
            scores.push_back((in.q[b][h][i] * in.k[b][h][j]).sum().item<double>() * in.scale);
            values.push_back(in.v[b][h][j]);
          }
        auto expected = torch::zeros({4}, torch::kDouble);
        if (in.query_valid[b][i].item<bool>()) {
          double top = -INFINITY, total = 0;
          for (double s : scores) top = std::max(top, s);
          for (double s : scores) total += std::exp(s - top);
          for (size_t k = 0; k < scores.size(); ++k)
            expected += values[k].to(torch::kDouble) * (std::exp(scores[k] - top) / total);
        }
        INFO("b=" << b << " h=" << h << " i=" << i);
        CHECK(torch::allclose(out[b][h][i].to(torch::kDouble), expected, 1e-5, 1e-6));
      }
}

TEST_CASE("blocked and dispatched banded attention equal the reference over many shapes", "[attention][banded]") {
  struct Shape {
    int64_t B, H, n, dh, radius, G;
    std::vector<int64_t> lengths;
  };
  const std::vector<Shape> shapes = {
      {1, 1, 1, 8, 1, 0, {1}},        {1, 2, 7, 8, 16, 0, {7}},      {2, 2, 64, 8, 16, 0, {64, 40}},
      {2, 3, 100, 16, 16, 3, {100, 33}}, {1, 2, 257, 8, 32, 5, {250}}, {3, 1, 48, 4, 5, 1, {48, 1, 20}},
      {1, 2, 2300, 8, 64, 2, {2290}},  // past the fused dense path: the blocked one
  };
  uint64_t seed = 11;
  for (const auto& s : shapes) {
    const auto in = make_inputs(s.B, s.H, s.n, s.dh, s.radius, s.G, s.lengths, seed++);
    INFO("n=" << s.n << " radius=" << s.radius << " G=" << s.G);
    const auto expected = la::banded_attention_reference(in);
    CHECK((la::banded_attention_blocked(in) - expected).abs().max().item<double>() < 1e-5);
    CHECK((la::banded_attention(in) - expected).abs().max().item<double>() < 1e-5);
  }
}

TEST_CASE("blocked and dispatched banded attention: gradients equal the reference's", "[attention][banded]") {
  auto in = make_inputs(2, 2, 40, 8, 6, 2, {40, 25}, 3, torch::kDouble);
  for (auto* t : {&in.q, &in.k, &in.v, &in.extra_k, &in.extra_v}) t->requires_grad_(true);
  const auto weights = torch::randn({2, 2, 40, 8}, torch::kDouble);
  const auto grads = [&](int which) {
    const auto out = which == 0   ? la::banded_attention_reference(in)
                     : which == 1 ? la::banded_attention_blocked(in)
                                  : la::banded_attention(in);
    return torch::autograd::grad({(out * weights).sum()}, {in.q, in.k, in.v, in.extra_k, in.extra_v});
  };
  const auto expected = grads(0);
  for (int which : {1, 2}) {
    const auto got = grads(which);
    for (size_t i = 0; i < got.size(); ++i) {
      INFO((which == 1 ? "blocked" : "dispatched") << ", input " << i);
      CHECK(torch::allclose(got[i], expected[i], 1e-9, 1e-10));
      CHECK_FALSE(got[i].isnan().any().item<bool>());
    }
  }
}

TEST_CASE("banded attention rejects mismatched inputs", "[attention][banded]") {
  auto in = make_inputs(1, 1, 8, 4, 2, 0, {8}, 1);
  in.k = torch::randn({1, 1, 9, 4});
  CHECK_THROWS_AS(la::banded_attention(in), std::invalid_argument);
  in = make_inputs(1, 1, 8, 4, 2, 0, {8}, 1);
  in.radius = 0;
  CHECK_THROWS_AS(la::banded_attention(in), std::invalid_argument);
}
