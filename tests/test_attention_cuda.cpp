// The fused attention kernels (attention/usw_attention_cuda.cu) against the float64 oracle.
//
// [emu]: the kernels compiled as plain C++ against the CPU emulation of the CUDA thread model
//        (every CTA's 128 threads are real threads with real barriers and warp shuffles),
//        called through the same binding code as on the GPU. Runs anywhere.
// [op]:  the longqa:: operators on the CPU (dispatch, autograd).
// [gpu]: the operators on CUDA tensors: forward and gradients vs float64 (the dense oracle
//        where it fits, the blocked version in float64 on the GPU for long n), up to 64k
//        tokens. Skipped (the ctest entry test_attention_cuda_gpu reports "Skipped") without
//        a GPU, failed instead when LONGQA_REQUIRE_GPU=1.
// Errors are max |kernel - reference| / max |reference| per tensor: <= 1e-5 in fp32,
// <= 1e-2 in fp16/bf16. Outputs are NaN-poisoned before the kernels run.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#define LONGQA_CUDA_EMULATION
#include "../attention/usw_attention_backward.cu"
#include "../attention/usw_attention_forward.cu"
#include "../attention/op_registration.h"
#include "../attention/usw_attention_binding.h"
#include "longqa/attention.h"
#include "test_util.h"

namespace la = longqa::attention;
namespace lk = longqa::attention::kernels;
namespace lb = longqa::attention::binding;

namespace {

struct EmuBackend {
  static void forward(const lk::AttentionParams& p) { lk::emu::attention_forward(p, nullptr); }
  static void backward(const lk::BackwardParams& p) { lk::emu::attention_backward(p, nullptr); }
  static int num_sms() { return 2; }
};

struct Shape {
  int64_t B, H, n, b, s, dh;
  std::vector<int64_t> lengths;  // valid tokens per batch row
  int64_t max_distance = 0;      // BiALiBi's distance cap (0: none)
};

std::string describe(const Shape& c, torch::ScalarType dtype) {
  std::ostringstream os;
  os << "B=" << c.B << " H=" << c.H << " n=" << c.n << " b=" << c.b << " s=" << c.s
     << " dh=" << c.dh << " dtype=" << dtype << " max_distance=" << c.max_distance << " lengths=";
  for (auto l : c.lengths) os << l << ' ';
  return os.str();
}

double tolerance(torch::ScalarType dtype) { return dtype == torch::kFloat ? 1e-5 : 1e-2; }

// max |a - ref| / max |ref| (ref all zero: max |a|).
double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto r = ref.detach().to(torch::kDouble).cpu();
  const auto x = a.detach().to(torch::kDouble).cpu();
  const double scale = r.abs().max().item<double>();
  const double diff = (x - r).abs().max().item<double>();
  return scale > 0 ? diff / scale : diff;
}

bool has_nan(const torch::Tensor& t) { return torch::isnan(t).any().item<bool>(); }

la::UswInputs make_inputs(const Shape& c, torch::ScalarType dtype, uint64_t seed,
                          torch::Device device = torch::kCPU) {
  torch::manual_seed(seed);
  const auto opt = torch::TensorOptions().dtype(dtype);
  la::UswInputs in;
  in.q = torch::randn({c.B, c.H, c.n, c.dh}, opt);
  in.k = torch::randn({c.B, c.H, c.n, c.dh}, opt);
  in.v = torch::randn({c.B, c.H, c.n, c.dh}, opt);
  in.packed_k = torch::randn({c.B, c.H, c.s, c.dh}, opt);
  in.packed_v = torch::randn({c.B, c.H, c.s, c.dh}, opt);
  auto lens = torch::tensor(c.lengths, torch::kLong).view({-1, 1});
  in.valid = torch::arange(c.n).view({1, c.n}) < lens;
  // alpha in [-1, 2), beta and gamma in [-0.05, 0.15): small slopes keep far keys relevant.
  in.bias = {torch::rand({c.H}, opt) * 3 - 1, torch::rand({c.H}, opt) * 0.2 - 0.05,
             torch::rand({c.H}, opt) * 0.2 - 0.05, c.max_distance};
  in.block_size = c.b;
  for (auto* t : {&in.q, &in.k, &in.v, &in.packed_k, &in.packed_v, &in.valid, &in.bias.alpha,
                  &in.bias.beta, &in.bias.gamma})
    *t = t->to(device);
  return in;
}

la::UswInputs to_double(const la::UswInputs& in) {
  la::UswInputs d = in;
  for (auto* t : {&d.q, &d.k, &d.v, &d.packed_k, &d.packed_v, &d.bias.alpha, &d.bias.beta,
                  &d.bias.gamma})
    *t = t->detach().to(torch::kDouble);
  return d;
}

std::vector<torch::Tensor*> differentiable(la::UswInputs& in) {
  return {&in.q, &in.k, &in.v, &in.packed_k, &in.packed_v,
          &in.bias.alpha, &in.bias.beta, &in.bias.gamma};
}
const char* const kGradNames[] = {"dq", "dk", "dv", "dpacked_k", "dpacked_v",
                                  "dalpha", "dbeta", "dgamma"};

// Gradients of sum(f(in) * w) in float64 through autograd.
std::vector<torch::Tensor> reference_grads(const la::UswInputs& in, const torch::Tensor& w,
                                           bool dense) {
  auto d = to_double(in);
  for (auto* t : differentiable(d)) t->requires_grad_(true);
  const auto out = dense ? la::usw_attention_reference(d) : la::usw_attention_blocked(d);
  std::vector<torch::Tensor> inputs;
  for (auto* t : differentiable(d)) inputs.push_back(*t);
  return torch::autograd::grad({(out * w.to(torch::kDouble)).sum()}, inputs, {}, false, false,
                               /*allow_unused=*/true);
}

// The bias gradients are sums over every (query, key) of -dS * dD/dparam in which the terms
// cancel (each softmax row of dS sums to 0), so their error is measured against the sum of
// the terms' magnitudes, (H,3) for alpha/beta/gamma, computed densely in float64.
torch::Tensor bias_grad_scale(const la::UswInputs& in, const torch::Tensor& w) {
  torch::NoGradGuard no_grad;
  const auto d = to_double(in);
  const int64_t n = d.q.size(2), s = d.packed_k.size(2), dh = d.q.size(3), b = d.block_size;
  const auto idx = torch::TensorOptions().dtype(torch::kLong).device(d.q.device());
  const auto fopt = d.q.options();
  const auto H = d.q.size(1);
  const auto keys = torch::cat({d.packed_k, d.k}, 2), vals = torch::cat({d.packed_v, d.v}, 2);
  auto logits = torch::matmul(d.q, keys.transpose(-1, -2)) / std::sqrt(double(dh));
  const auto pos = torch::arange(n, idx);
  const auto i = pos.view({n, 1}), j = pos.view({1, n});
  const auto cls = ((i == 0) | (j == 0)) & (i != j);
  const auto left = ((i > j) & ~cls).to(torch::kDouble), right = ((i < j) & ~cls).to(torch::kDouble);
  auto dist = (i - j).abs();
  if (d.bias.max_distance > 0) dist.clamp_max_(d.bias.max_distance);
  dist = dist.to(torch::kDouble);
  const auto da = torch::cat({torch::zeros({n, s}, fopt), cls.to(torch::kDouble)}, 1);
  const auto db = torch::cat({torch::full({n, s}, b / 2.0, fopt), left * dist}, 1);
  const auto dg = torch::cat({torch::full({n, s}, b / 2.0, fopt), right * dist}, 1);
  const auto hv = [&](const torch::Tensor& x) { return x.view({1, H, 1, 1}); };
  logits = logits - (hv(d.bias.alpha) * da + hv(d.bias.beta) * db + hv(d.bias.gamma) * dg);
  const auto blk = torch::div(pos, b, "floor");
  const auto window = (blk.view({1, n}) == 0) | (blk.view({1, n}) - blk.view({n, 1})).abs().le(1);
  const auto ok = torch::cat({torch::ones({d.q.size(0), n, s}, idx.dtype(torch::kBool)),
                              window.unsqueeze(0) & d.valid.unsqueeze(1)},
                             2)
                      .unsqueeze(1);
  const auto p = torch::softmax(logits.masked_fill(~ok, -1e300), -1);
  const auto dp = torch::matmul(w.to(torch::kDouble), vals.transpose(-1, -2));
  auto ds = p * (dp - (p * dp).sum(-1, true));
  ds = ds * d.valid.view({d.q.size(0), 1, n, 1}).to(torch::kDouble);  // padded rows: no gradient
  const auto sum = [&](const torch::Tensor& x) { return (ds.abs() * x).sum({0, 2, 3}); };
  return torch::stack({sum(da), sum(db), sum(dg)}, 1);  // (H,3)
}

// Gradient error: relative to max |ref| for tensors, to the term magnitudes for bias grads.
double grad_err(size_t g, const torch::Tensor& got, const torch::Tensor& ref,
                const torch::Tensor& scale) {
  if (g < 5) return rel_err(got, ref);
  const double diff = (got.detach().to(torch::kDouble) - ref.detach().to(torch::kDouble))
                          .abs().max().item<double>();
  const double mag = std::max(scale.select(1, int64_t(g) - 5).max().item<double>(),
                              ref.abs().max().item<double>());
  return mag > 0 ? diff / mag : diff;
}

struct Poison {
  Poison() { lb::poison_outputs() = true; }
  ~Poison() { lb::poison_outputs() = false; }
};

// [gpu] cases: skipped (exit 77) without a CUDA device, failed with LONGQA_REQUIRE_GPU=1.
bool skip_without_gpu() { return longqa::test::skip_unless_gpu(torch::cuda::is_available()); }

}  // namespace

// ---- Geometry (host functions shared with the kernels) ------------------------------------

TEST_CASE("key ranges and key-tile query spans cover exactly the window set", "[emu]") {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + int(rng() % 700), b = 1 + int(rng() % 150), s = int(rng() % 3) * 40;
    INFO("n=" << n << " b=" << b << " s=" << s);
    for (int i0 = 0; i0 < n; i0 += lk::kBlockM) {
      const int i1 = std::min(i0 + lk::kBlockM, n);
      lk::KeyRange r[3];
      const int nr = lk::usw_key_ranges(i0, i1, n, s, b, r);
      std::set<int> seen;
      int packed = 0;
      for (int x = 0; x < nr; ++x) {
        if (r[x].packed) {
          packed += r[x].end - r[x].begin;
          continue;
        }
        for (int j = r[x].begin; j < r[x].end; ++j) REQUIRE(seen.insert(j).second);  // once
      }
      CHECK(packed == s);
      for (int i = i0; i < i1; ++i)
        for (int j = 0; j < n; ++j)
          if (lk::usw_token_allowed(i, j, b)) REQUIRE(seen.count(j) == 1);
    }
    for (int j0 = 0; j0 < n; j0 += lk::kBlockN) {
      const int j1 = std::min(j0 + lk::kBlockN, n);
      int begin, end;
      lk::usw_tile_queries(j0, j1, n, b, &begin, &end);
      for (int i = 0; i < n; ++i)
        for (int j = j0; j < j1; ++j)
          if (lk::usw_token_allowed(i, j, b)) REQUIRE((begin <= i && i < end));
    }
  }
}

// ---- The kernels under the CPU emulation ------------------------------------------------

TEST_CASE("emulated fused forward matches the float64 oracle", "[emu]") {
  Poison poison;
  const std::vector<Shape> shapes = {
      {2, 2, 200, 64, 64, 64, {200, 130}},   // edges, ragged
      {1, 2, 150, 32, 0, 32, {150}},         // b < tile: tiles span 2 blocks, no packed keys
      {2, 1, 300, 48, 70, 32, {300, 1}},     // b not dividing 64, 2 packed tiles, 1-token row
      {1, 1, 37, 5, 3, 32, {37}},            // tiny blocks
      {1, 1, 130, 128, 16, 128, {129}},      // dh 128, b > tile
      {2, 1, 64, 64, 64, 64, {64, 0}},       // one block; an all-padding row
      {1, 2, 300, 32, 16, 32, {300}, 50},    // BiALiBi distances capped at 50
  };
  for (auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16}) {
    for (size_t x = 0; x < shapes.size(); ++x) {
      const auto& c = shapes[x];
      if (dtype != torch::kFloat && x % 2 == 1) continue;  // keep the emulation quick
      INFO(describe(c, dtype));
      const auto in = make_inputs(c, dtype, 10 + x);
      const auto [out, lse] = lb::usw_forward<EmuBackend>(in);
      REQUIRE(out.scalar_type() == dtype);
      CHECK_FALSE(has_nan(out));
      CHECK_FALSE(has_nan(lse));
      const auto ref = la::usw_attention_reference(to_double(in));
      CHECK(rel_err(out, ref) <= tolerance(dtype));
      for (int64_t r = 0; r < c.B; ++r)  // padded query rows exactly zero
        CHECK(out[r].narrow(1, c.lengths[r], c.n - c.lengths[r]).abs().sum().item<double>() == 0);
    }
  }
}

TEST_CASE("emulated fused backward matches float64 autograd", "[emu]") {
  Poison poison;
  const std::vector<Shape> shapes = {
      {2, 2, 200, 64, 64, 32, {200, 130}},
      {1, 1, 300, 48, 70, 64, {290}},
      {1, 2, 100, 16, 5, 32, {100}},
      {1, 2, 200, 16, 5, 32, {190}, 20},  // BiALiBi distances capped at 20 (< 2b: window keys too)
  };
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (size_t x = 0; x < shapes.size(); ++x) {
      const auto& c = shapes[x];
      INFO(describe(c, dtype));
      const auto in = make_inputs(c, dtype, 20 + x);
      const auto w = torch::randn({c.B, c.H, c.n, c.dh}).to(dtype);
      const auto [out, lse] = lb::usw_forward<EmuBackend>(in);
      lb::Tuning tuning;
      tuning.query_chunk = 128;  // several chunks of the globally seen keys
      const auto grads = lb::usw_backward<EmuBackend>(w, in, out, lse, tuning);
      const auto ref = reference_grads(in, w, /*dense=*/true);
      const auto scale = bias_grad_scale(in, w);
      for (size_t g = 0; g < grads.size(); ++g) {
        INFO(kGradNames[g]);
        REQUIRE(grads[g].sizes() == ref[g].sizes());
        CHECK_FALSE(has_nan(grads[g]));
        CHECK(grad_err(g, grads[g], ref[g], scale) <= tolerance(dtype));
      }
    }
  }
}

TEST_CASE("emulated pack attention forward and backward", "[emu]") {
  Poison poison;
  for (auto dtype : {torch::kFloat, torch::kHalf}) {
    for (const auto& [s, n, dh] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {64, 300, 64}, {70, 130, 32}, {5, 700, 32}}) {
      INFO("s=" << s << " n=" << n << " dh=" << dh << " dtype=" << dtype);
      torch::manual_seed(s + n);
      const int64_t B = 3, H = 2;
      const auto pq = torch::randn({B, H, s, dh}).to(dtype);
      const auto k = torch::randn({B, H, n, dh}).to(dtype);
      const auto v = torch::randn({B, H, n, dh}).to(dtype);
      const auto valid = torch::arange(n).view({1, n}) <
                         torch::tensor({n, n / 3, int64_t(0)}, torch::kLong).view({B, 1});
      lb::Tuning tuning;
      tuning.key_chunk = 128;  // 3..6 key splits merged by the combine kernel
      const auto [out, lse] = lb::pack_forward<EmuBackend>(pq, k, v, valid, tuning);
      CHECK_FALSE(has_nan(out));
      auto d = [](const torch::Tensor& t) { return t.to(torch::kDouble).requires_grad_(true); };
      auto pqd = d(pq), kd = d(k), vd = d(v);
      const auto ref = la::pack_attention(pqd, kd, vd, valid);
      CHECK(rel_err(out, ref) <= tolerance(dtype));

      const auto w = torch::randn({B, H, s, dh}).to(dtype);
      const auto grads = lb::pack_backward<EmuBackend>(w, pq, k, v, valid, out, lse, tuning);
      const auto ref_grads = torch::autograd::grad({(ref * w.to(torch::kDouble)).sum()},
                                                   {pqd, kd, vd});
      for (size_t g = 0; g < 3; ++g) {
        INFO("grad " << g);
        CHECK_FALSE(has_nan(grads[g]));
        CHECK(rel_err(grads[g], ref_grads[g]) <= tolerance(dtype));
      }
    }
  }
}

TEST_CASE("the binding refuses what the kernels cannot do", "[emu]") {
  const Shape c{1, 1, 10, 4, 2, 48, {10}};
  auto in = make_inputs(c, torch::kFloat, 1);
  try {
    lb::usw_forward<EmuBackend>(in);
    FAIL("dh 48 accepted");
  } catch (const c10::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("head dim 48"));
  }
  auto d = make_inputs({1, 1, 10, 4, 2, 32, {10}}, torch::kDouble, 1);
  CHECK_THROWS_AS(lb::usw_forward<EmuBackend>(d), c10::Error);
  // Non-contiguous, misaligned views (row stride 33, offset 1 element) are copied, not misread.
  auto view = make_inputs({1, 1, 10, 4, 2, 32, {10}}, torch::kFloat, 2);
  for (auto* t : {&view.q, &view.k, &view.v})
    *t = torch::cat({torch::randn({1, 1, 10, 1}), *t}, 3).narrow(3, 1, 32);
  REQUIRE(view.q.stride(2) == 33);
  const auto [out, lse] = lb::usw_forward<EmuBackend>(view);
  CHECK(rel_err(out, la::usw_attention_reference(to_double(view))) <= 1e-5);
}

// ---- The operators on the CPU -----------------------------------------------------------

TEST_CASE("longqa::usw_attention and pack_attention on the CPU: blocked/ATen with autograd",
          "[op]") {
  const Shape c{2, 2, 77, 8, 5, 8, {77, 40}};
  auto in = make_inputs(c, torch::kDouble, 3);
  for (auto* t : differentiable(in)) t->requires_grad_(true);
  const auto out = la::usw_attention_op(in);
  CHECK(rel_err(out, la::usw_attention_reference(in)) < 1e-12);
  const auto w = torch::randn_like(out);
  (out * w).sum().backward();
  const auto ref = reference_grads(in, w, true);
  auto x = differentiable(in);
  for (size_t g = 0; g < x.size(); ++g) {
    INFO(kGradNames[g]);
    REQUIRE(x[g]->grad().defined());
    CHECK(rel_err(x[g]->grad(), ref[g]) < 1e-10);
    if (g >= 5) CHECK(grad_err(g, x[g]->grad(), ref[g], bias_grad_scale(in, w)) < 1e-10);
  }
  {
    c10::InferenceMode guard;  // skips the Autograd kernel: straight to the CPU kernel
    CHECK(rel_err(la::usw_attention_op(to_double(in)), out) < 1e-12);
  }
  const auto pq = torch::randn({2, 2, 3, 8}, torch::kDouble);
  CHECK(rel_err(la::pack_attention_op(pq, in.k.detach(), in.v.detach(), in.valid),
                la::pack_attention(pq, in.k.detach(), in.v.detach(), in.valid)) < 1e-12);
  CHECK(la::cuda_kernels_built());
}

// ---- On the GPU -------------------------------------------------------------------------

TEST_CASE("GPU: fused forward vs float64 over many shapes", "[gpu]") {
  if (skip_without_gpu()) return;
  Poison poison;
  const torch::Device cuda(torch::kCUDA);
  std::mt19937 rng(77);
  std::vector<Shape> shapes = {
      {2, 3, 64, 64, 64, 64, {64, 10}},      {3, 2, 1000, 64, 64, 64, {1000, 999, 517}},
      {1, 4, 4097, 64, 64, 64, {4097}},      {2, 2, 333, 32, 7, 32, {333, 100}},
      {2, 2, 777, 100, 64, 128, {777, 3}},   {1, 1, 5, 2, 1, 32, {5}},
      {2, 2, 2048, 128, 130, 64, {2048, 2000}},
      {2, 2, 3000, 64, 64, 64, {3000, 1500}, 512},  // BiALiBi distances capped at 512
  };
  for (int x = 0; x < 12; ++x) {  // random ragged shapes
    Shape c{1 + int64_t(rng() % 3), 1 + int64_t(rng() % 4), 1 + int64_t(rng() % 3000),
            int64_t(std::vector<int>{16, 32, 64, 64, 96, 128}[rng() % 6]),
            int64_t(std::vector<int>{0, 1, 64, 64, 100}[rng() % 5]),
            int64_t(std::vector<int>{32, 64, 64, 128}[rng() % 4]), {}};
    for (int64_t r = 0; r < c.B; ++r) c.lengths.push_back(r == 0 ? c.n : int64_t(rng() % (c.n + 1)));
    shapes.push_back(c);
  }
  for (auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16})
    for (size_t x = 0; x < shapes.size(); ++x) {
      const auto& c = shapes[x];
      INFO(describe(c, dtype));
      const auto in = make_inputs(c, dtype, 100 + x, cuda);
      const auto out = la::usw_attention_op(in);
      REQUIRE(out.is_cuda());
      CHECK_FALSE(has_nan(out));
      const auto ref = la::usw_attention_reference(to_double(in));
      CHECK(rel_err(out, ref) <= tolerance(dtype));
    }
}

TEST_CASE("GPU: fused forward at long n vs the blocked version in float64", "[gpu]") {
  if (skip_without_gpu()) return;
  Poison poison;
  const torch::Device cuda(torch::kCUDA);
  for (auto dtype : {torch::kFloat, torch::kBFloat16})
    for (int64_t n : {8192, 16385, 65536}) {
      const Shape c{2, 2, n, 64, 64, 64, {n, n / 2 + 13}};
      INFO(describe(c, dtype));
      const auto in = make_inputs(c, dtype, n, cuda);
      const auto out = la::usw_attention_op(in);
      CHECK_FALSE(has_nan(out));
      CHECK(rel_err(out, la::usw_attention_blocked(to_double(in))) <= tolerance(dtype));
    }
}

TEST_CASE("GPU: fused gradients vs float64 autograd", "[gpu]") {
  if (skip_without_gpu()) return;
  const torch::Device cuda(torch::kCUDA);
  const std::vector<Shape> shapes = {
      {2, 2, 64, 64, 64, 64, {64, 30}},         {2, 3, 1000, 64, 64, 64, {1000, 611}},
      {1, 2, 777, 48, 70, 32, {770}},           {2, 1, 513, 128, 16, 128, {513, 1}},
      {1, 2, 5000, 64, 64, 64, {5000}},         {1, 1, 12000, 64, 64, 64, {11999}},
      {1, 2, 3000, 64, 64, 64, {3000}, 100},  // BiALiBi distances capped at 100 (< 2b: window keys too)
  };
  for (auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16})
    for (size_t x = 0; x < shapes.size(); ++x) {
      const auto& c = shapes[x];
      INFO(describe(c, dtype));
      auto in = make_inputs(c, dtype, 200 + x, cuda);
      for (auto* t : differentiable(in)) t->requires_grad_(true);
      const auto out = la::usw_attention_op(in);
      const auto w = torch::randn(out.sizes(), out.options().requires_grad(false));
      std::vector<torch::Tensor> inputs;
      for (auto* t : differentiable(in)) inputs.push_back(*t);
      const auto grads = torch::autograd::grad({(out * w).sum()}, inputs);
      const auto ref = reference_grads(in, w, /*dense=*/c.n <= 5000);
      const auto scale = bias_grad_scale(in, w);
      for (size_t g = 0; g < grads.size(); ++g) {
        INFO(kGradNames[g]);
        CHECK_FALSE(has_nan(grads[g]));
        CHECK(grad_err(g, grads[g], ref[g], scale) <= tolerance(dtype));
      }
    }
}

TEST_CASE("GPU: pack attention forward and gradients", "[gpu]") {
  if (skip_without_gpu()) return;
  Poison poison;
  const torch::Device cuda(torch::kCUDA);
  for (auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16})
    for (const auto& [s, n, dh] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {64, 1000, 64}, {64, 65536, 64}, {70, 3001, 32}, {16, 4096, 128}}) {
      INFO("s=" << s << " n=" << n << " dh=" << dh << " dtype=" << dtype);
      torch::manual_seed(s * n);
      const int64_t B = 3, H = 2;
      const auto opt = torch::TensorOptions().dtype(dtype).device(cuda);
      auto pq = torch::randn({B, H, s, dh}, opt).requires_grad_(true);
      auto k = torch::randn({B, H, n, dh}, opt).requires_grad_(true);
      auto v = torch::randn({B, H, n, dh}, opt).requires_grad_(true);
      const auto valid = (torch::arange(n).view({1, n}) <
                          torch::tensor({n, n / 3, int64_t(0)}, torch::kLong).view({B, 1}))
                             .to(cuda);
      const auto out = la::pack_attention_op(pq, k, v, valid);
      CHECK_FALSE(has_nan(out));
      auto d = [](const torch::Tensor& t) {
        return t.detach().to(torch::kDouble).requires_grad_(true);
      };
      auto pqd = d(pq), kd = d(k), vd = d(v);
      const auto ref = la::pack_attention(pqd, kd, vd, valid);
      CHECK(rel_err(out, ref) <= tolerance(dtype));
      const auto w = torch::randn(out.sizes(), opt);
      const auto g = torch::autograd::grad({(out * w).sum()}, {pq, k, v});
      const auto rg = torch::autograd::grad({(ref * w.to(torch::kDouble)).sum()}, {pqd, kd, vd});
      for (size_t x = 0; x < 3; ++x) {
        INFO("grad " << x);
        CHECK(rel_err(g[x], rg[x]) <= tolerance(dtype));
      }
    }
}

TEST_CASE("GPU: strided (B,n,H,dh) views and the dispatcher's device choice", "[gpu]") {
  if (skip_without_gpu()) return;
  const torch::Device cuda(torch::kCUDA);
  const Shape c{2, 3, 500, 64, 64, 64, {500, 250}};
  auto in = make_inputs(c, torch::kHalf, 9, cuda);
  // q/k/v as the model makes them: (B,n,H,dh) transposed to (B,H,n,dh), not contiguous.
  auto strided = in;
  for (auto* t : {&strided.q, &strided.k, &strided.v})
    *t = t->transpose(1, 2).contiguous().transpose(1, 2);
  REQUIRE_FALSE(strided.q.is_contiguous());
  CHECK(rel_err(la::usw_attention_op(strided), la::usw_attention_op(in)) == 0);
  torch::NoGradGuard no_grad;
  const auto ref = la::usw_attention_reference(to_double(in));
  CHECK(rel_err(la::usw_attention_op(in), ref) <= tolerance(torch::kHalf));
  // float64 has no fused kernel: the CUDA path falls back to the blocked version.
  CHECK(rel_err(la::usw_attention_op(to_double(in)), ref) < 1e-12);
}
