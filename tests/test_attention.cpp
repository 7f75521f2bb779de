// LittleBird attention: the dense oracle against a scalar loop and hand-worked values, the
// blocked version against the oracle (values and gradients), and pack attention.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <sstream>
#include <vector>

#include "longqa/attention.h"

namespace la = longqa::attention;

namespace {

struct Case {
  int64_t B, H, n, b, s, dh;
  std::vector<int64_t> lengths;  // valid tokens per batch row; the rest is padding
  int64_t max_distance = 0;      // BiALiBi's distance cap (0: none)
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "B=" << c.B << " H=" << c.H << " n=" << c.n << " b=" << c.b << " s=" << c.s
     << " dh=" << c.dh << " lengths=";
  for (auto l : c.lengths) os << l << ' ';
  os << "max_distance=" << c.max_distance;
  return os.str();
}

torch::Tensor valid_mask(int64_t n, const std::vector<int64_t>& lengths) {
  auto lens = torch::tensor(lengths, torch::kLong).view({-1, 1});
  return torch::arange(n).view({1, n}) < lens;
}

// Random inputs; alpha in [-1,2), beta and gamma in [-0.2,0.6): signs and sizes that matter.
la::UswInputs make_inputs(const Case& c, torch::ScalarType dtype, uint64_t seed) {
  torch::manual_seed(seed);
  const auto opt = torch::TensorOptions().dtype(dtype);
  la::UswInputs in;
  in.q = torch::randn({c.B, c.H, c.n, c.dh}, opt);
  in.k = torch::randn({c.B, c.H, c.n, c.dh}, opt);
  in.v = torch::randn({c.B, c.H, c.n, c.dh}, opt);
  in.packed_k = torch::randn({c.B, c.H, c.s, c.dh}, opt);
  in.packed_v = torch::randn({c.B, c.H, c.s, c.dh}, opt);
  in.valid = valid_mask(c.n, c.lengths);
  in.bias = {torch::rand({c.H}, opt) * 3 - 1, torch::rand({c.H}, opt) * 0.8 - 0.2,
             torch::rand({c.H}, opt) * 0.8 - 0.2, c.max_distance};
  in.block_size = c.b;
  return in;
}

std::vector<torch::Tensor*> differentiable(la::UswInputs& in) {
  return {&in.q,        &in.k,          &in.v,         &in.packed_k,
          &in.packed_v, &in.bias.alpha, &in.bias.beta, &in.bias.gamma};
}

// USWAttn written straight from the formula, one query and one key at a time, in double.
torch::Tensor naive_usw(const la::UswInputs& in) {
  auto d = [](const torch::Tensor& t) { return t.detach().to(torch::kDouble).contiguous(); };
  const auto q = d(in.q), k = d(in.k), v = d(in.v), pk = d(in.packed_k), pv = d(in.packed_v);
  const auto al = d(in.bias.alpha), be = d(in.bias.beta), ga = d(in.bias.gamma);
  const auto qa = q.accessor<double, 4>(), ka = k.accessor<double, 4>(),
             va = v.accessor<double, 4>(), pka = pk.accessor<double, 4>(),
             pva = pv.accessor<double, 4>();
  const auto valid = in.valid.contiguous();
  const auto ok = valid.accessor<bool, 2>();
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), dh = q.size(3), s = pk.size(2);
  const int64_t bs = in.block_size, cap = in.bias.max_distance;
  auto distance = [&](int64_t i, int64_t j) {
    const int64_t d = std::abs(i - j);
    return double(cap > 0 ? std::min(d, cap) : d);
  };
  auto out = torch::zeros({B, H, n, dh}, torch::kDouble);
  auto oa = out.accessor<double, 4>();
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t h = 0; h < H; ++h) {
      const double alpha = al[h].item<double>(), beta = be[h].item<double>(),
                   gamma = ga[h].item<double>();
      for (int64_t i = 0; i < n; ++i) {
        if (!ok[bi][i]) continue;
        std::vector<double> logit;
        std::vector<const double*> value;
        auto dot = [&](auto row) {
          double acc = 0;
          for (int64_t x = 0; x < dh; ++x) acc += qa[bi][h][i][x] * row[x];
          return acc / std::sqrt(double(dh));
        };
        for (int64_t p = 0; p < s; ++p) {
          logit.push_back(dot(pka[bi][h][p]) - (beta + gamma) / 2 * bs);
          value.push_back(pva[bi][h][p].data());
        }
        const int64_t qb = i / bs;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t kb = j / bs;
          if (!(kb == 0 || kb == qb - 1 || kb == qb || kb == qb + 1) || !ok[bi][j]) continue;
          const double D = i == j               ? 0
                           : (i == 0 || j == 0) ? alpha
                           : i > j              ? beta * distance(i, j)
                                                : gamma * distance(i, j);
          logit.push_back(dot(ka[bi][h][j]) - D);
          value.push_back(va[bi][h][j].data());
        }
        double mx = -INFINITY, z = 0;
        for (double l : logit) mx = std::max(mx, l);
        for (double& l : logit) z += (l = std::exp(l - mx));
        for (size_t t = 0; t < logit.size(); ++t)
          for (int64_t x = 0; x < dh; ++x) oa[bi][h][i][x] += logit[t] / z * value[t][x];
      }
    }
  return out;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

la::UswInputs to_double(la::UswInputs in) {
  for (auto* t : differentiable(in)) *t = t->to(torch::kDouble);
  return in;
}

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

}  // namespace

TEST_CASE("oracle and blocked match a scalar loop over the formula", "[attention]") {
  const std::vector<Case> cases = {
      {1, 1, 5, 2, 1, 3, {5}},        // the tiny case: 3 blocks, last one partial
      {2, 2, 5, 2, 1, 3, {5, 3}},     // ragged
      {1, 1, 3, 4, 2, 2, {3}},        // n < b
      {2, 3, 11, 2, 3, 4, {11, 6}},   // 6 blocks: middle blocks and both edges
      {1, 2, 9, 3, 0, 2, {8}},        // no packed keys
      {3, 1, 4, 1, 2, 2, {4, 1, 0}},  // b = 1, a row with no valid token at all
      {2, 3, 11, 2, 3, 4, {11, 6}, 2},  // distances capped at 2: block 0 and window keys (up to 3 away)
      {1, 2, 23, 3, 2, 3, {21}, 7},     // capped past the window (2b), block 0 only
      {1, 1, 9, 2, 1, 2, {9}, 1},       // a cap of 1
  };
  for (const auto& c : cases) {
    INFO(describe(c));
    const auto in = make_inputs(c, torch::kDouble, 7);
    const auto expected = naive_usw(in);
    CHECK(max_abs_diff(la::usw_attention_reference(in), expected) < 1e-12);
    CHECK(max_abs_diff(la::usw_attention_blocked(in), expected) < 1e-12);
    CHECK(max_abs_diff(la::usw_attention(in), expected) < 1e-12);
  }
}

TEST_CASE("hand-worked weights: window set, BiALiBi and Dp", "[attention]") {
  // q = 0 makes every dot product 0, so weight(i, key) ~ exp(-bias). With v = identity the
  // output row i is the weight of each token key; the packed key has v = 0 and gets the rest.
  const int64_t n = 9, b = 2;
  la::UswInputs in;
  in.q = torch::zeros({1, 1, n, n}, torch::kDouble);
  in.k = torch::randn({1, 1, n, n}, torch::kDouble);
  in.v = torch::eye(n, torch::kDouble).view({1, 1, n, n});
  in.packed_k = torch::randn({1, 1, 1, n}, torch::kDouble);
  in.packed_v = torch::zeros({1, 1, 1, n}, torch::kDouble);
  in.valid = torch::ones({1, n}, torch::kBool);
  in.block_size = b;
  auto scalar = [](double x) { return torch::tensor({x}, torch::kDouble); };

  for (auto* impl : {&la::usw_attention_reference, &la::usw_attention_blocked}) {
    {  // No bias: uniform over the packed key and the window keys.
      in.bias = {scalar(0), scalar(0), scalar(0)};
      const auto w = impl(in)[0][0];
      // Blocks of 2: [0 1][2 3][4 5][6 7][8]. Query block qb sees blocks {0, qb-1, qb, qb+1}.
      const std::vector<std::pair<int64_t, std::vector<int64_t>>> seen = {
          {0, {0, 1, 2, 3}},        // qb 0: blocks 0, 1
          {3, {0, 1, 2, 3, 4, 5}},  // qb 1: blocks 0, 1, 2 (block 0 once)
          {5, {0, 1, 2, 3, 4, 5, 6, 7}},
          {6, {0, 1, 4, 5, 6, 7, 8}},  // qb 3: blocks 0, 2, 3, 4
          {8, {0, 1, 6, 7, 8}},        // qb 4, the short last block: blocks 0, 3, 4
      };
      for (const auto& [i, keys] : seen) {
        INFO("query " << i);
        auto expected = torch::zeros({n}, torch::kDouble);
        for (auto j : keys) expected[j] = 1.0 / double(keys.size() + 1);  // + the packed key
        CHECK(max_abs_diff(w[i], expected) < 1e-14);
      }
    }
    {  // BiALiBi and Dp values.
      const double alpha = 0.5, beta = 0.1, gamma = 0.3, Dp = (beta + gamma) / 2 * b;
      in.bias = {scalar(alpha), scalar(beta), scalar(gamma)};
      const auto w = impl(in)[0][0];
      auto ratio = [&](int64_t i, int64_t j) { return (w[i][j] / w[i][i]).item<double>(); };
      auto packed_ratio = [&](int64_t i) { return ((1 - w[i].sum()) / w[i][i]).item<double>(); };
      CHECK(ratio(6, 4) == Approx(std::exp(-2 * beta)));   // left, distance 2
      CHECK(ratio(6, 8) == Approx(std::exp(-2 * gamma)));  // right, distance 2
      CHECK(ratio(6, 0) == Approx(std::exp(-alpha)));      // [CLS] key: alpha, not 6*alpha
      CHECK(ratio(6, 1) == Approx(std::exp(-5 * beta)));   // rest of block 0: distance
      CHECK(ratio(0, 3) == Approx(std::exp(-alpha)));      // [CLS] query: alpha everywhere
      CHECK(ratio(3, 0) == Approx(std::exp(-alpha)));
      CHECK(ratio(3, 5) == Approx(std::exp(-2 * gamma)));
      for (int64_t i : {0, 3, 6, 8}) CHECK(packed_ratio(i) == Approx(std::exp(-Dp)));
    }
  }
}

TEST_CASE("Dp acts through the joint softmax", "[attention]") {
  // One token (n < b): its only token key is itself (bias 0); the packed keys get -Dp. Token
  // values are 0, so the output is the packed share alone. A separate softmax over the packed
  // keys would make it independent of beta and gamma.
  const int64_t b = 4, s = 3, dh = 5;
  torch::manual_seed(3);
  la::UswInputs in;
  in.q = torch::randn({1, 1, 1, dh}, torch::kDouble);
  in.k = torch::randn({1, 1, 1, dh}, torch::kDouble);
  in.v = torch::zeros({1, 1, 1, dh}, torch::kDouble);
  in.packed_k = torch::randn({1, 1, s, dh}, torch::kDouble);
  in.packed_v = torch::randn({1, 1, s, dh}, torch::kDouble);
  in.valid = torch::ones({1, 1}, torch::kBool);
  in.block_size = b;
  auto expected = [&](double beta, double gamma) {
    const double Dp = (beta + gamma) / 2 * b, sq = std::sqrt(double(dh));
    const auto q = in.q[0][0][0];
    const auto ep = torch::exp(torch::mv(in.packed_k[0][0], q) / sq - Dp);
    const auto et = torch::exp(torch::dot(in.k[0][0][0], q) / sq);
    return torch::mv(in.packed_v[0][0].t(), ep) / (ep.sum() + et);
  };
  for (auto* impl : {&la::usw_attention_reference, &la::usw_attention_blocked}) {
    std::vector<torch::Tensor> outs;
    for (double beta : {0.0, 0.5, 1.5}) {
      in.bias = {torch::tensor({0.7}, torch::kDouble), torch::tensor({beta}, torch::kDouble),
                 torch::tensor({0.2}, torch::kDouble)};
      outs.push_back(impl(in)[0][0][0]);
      CHECK(max_abs_diff(outs.back(), expected(beta, 0.2)) < 1e-14);
    }
    CHECK(max_abs_diff(outs[0], outs[1]) > 1e-3);
    CHECK(max_abs_diff(outs[1], outs[2]) > 1e-3);
  }
}

TEST_CASE("blocked equals the oracle in fp32 over many shapes", "[attention]") {
  std::mt19937 rng(1234);
  auto pick = [&](std::vector<int64_t> xs) { return xs[rng() % xs.size()]; };
  int count = 0;
  double worst = 0;
  for (int64_t n : {1, 2, 3, 5, 8, 13, 31, 64, 100, 257}) {
    for (int64_t b : {1, 2, 3, 4, 8, 16, 64}) {
      Case c{pick({1, 2, 3}),        pick({1, 2, 3, 4}),  n, b,
             pick({0, 1, 3, 5, 16}), pick({1, 4, 8, 16}), {}, pick({0, 0, 1, 5, 40})};
      // Ragged rows: one full, the others any length 0..n.
      for (int64_t r = 0; r < c.B; ++r) c.lengths.push_back(r == 0 ? n : int64_t(rng() % (n + 1)));
      INFO(describe(c));
      const auto in = make_inputs(c, torch::kFloat, 100 + count++);
      const auto ref = la::usw_attention_reference(in);
      const auto blk = la::usw_attention_blocked(in);
      REQUIRE(blk.sizes() == ref.sizes());
      REQUIRE(blk.scalar_type() == torch::kFloat);
      REQUIRE(all_finite(blk));
      const double err = max_abs_diff(blk, ref);
      worst = std::max(worst, err);
      CHECK(err <= 1e-5);
      // Padded query rows are exactly zero.
      for (int64_t r = 0; r < c.B; ++r) {
        const auto pad_rows = blk[r].narrow(1, c.lengths[r], n - c.lengths[r]);
        CHECK(pad_rows.abs().sum().item<double>() == 0.0);
      }
    }
  }
  WARN("fp32 blocked vs oracle, worst max abs error over " << count << " shapes: " << worst);
}

TEST_CASE("blocked gradients: central differences and the oracle's gradients", "[attention]") {
  // Loss = sum(out * w) for a fixed random w; all inputs in double.
  auto loss = [](const la::UswInputs& in, const torch::Tensor& w, auto impl) {
    return (impl(in) * w).sum();
  };
  const std::vector<Case> cases = {
      {2, 2, 7, 3, 2, 3, {7, 4}},  // 3 blocks, last partial
      {1, 2, 11, 2, 3, 2, {10}},   // 6 blocks: block-0 columns per block and the shared window template
      {2, 1, 2, 4, 1, 2, {2, 1}},  // n < b
      {1, 2, 13, 2, 3, 2, {12}, 2},  // distances capped at 2: block 0, and window keys on both sides
  };
  for (const auto& c : cases) {
    INFO(describe(c));
    auto in = make_inputs(c, torch::kDouble, 42);
    const auto w = torch::randn({c.B, c.H, c.n, c.dh}, torch::kDouble);
    for (auto* t : differentiable(in)) t->requires_grad_(true);

    loss(in, w, la::usw_attention_blocked).backward();
    std::vector<torch::Tensor> analytic;
    for (auto* t : differentiable(in)) {
      REQUIRE(t->grad().defined());
      analytic.push_back(t->grad().clone());
      t->mutable_grad().zero_();
    }
    loss(in, w, la::usw_attention_reference).backward();
    for (size_t x = 0; x < analytic.size(); ++x) {
      INFO("input " << x);
      CHECK(max_abs_diff(analytic[x], differentiable(in)[x]->grad()) < 1e-12);
    }
    CHECK(in.bias.alpha.grad().abs().sum().item<double>() > 0);

    torch::NoGradGuard no_grad;
    const double eps = 1e-6;
    for (size_t x = 0; x < analytic.size(); ++x) {
      auto& t = *differentiable(in)[x];
      double* p = t.data_ptr<double>();
      const double* g = analytic[x].data_ptr<double>();
      double worst = 0;
      for (int64_t e = 0; e < t.numel(); ++e) {
        const double orig = p[e];
        p[e] = orig + eps;
        const double up = loss(in, w, la::usw_attention_blocked).item<double>();
        p[e] = orig - eps;
        const double down = loss(in, w, la::usw_attention_blocked).item<double>();
        p[e] = orig;
        const double numeric = (up - down) / (2 * eps);
        worst = std::max(worst, std::abs(numeric - g[e]));
      }
      INFO("input " << x);
      CHECK(worst < 1e-7);
    }
  }
}

TEST_CASE("blocked: float64, InferenceMode and the dispatcher agree", "[attention]") {
  for (int64_t cap : {0, 5}) {  // the cap reaches every implementation through the dispatcher
    const Case c{2, 3, 77, 8, 5, 8, {77, 40}, cap};
    INFO(describe(c));
    const auto in = make_inputs(c, torch::kDouble, 5);
    const auto grad_mode = la::usw_attention_blocked(in);
    CHECK(max_abs_diff(grad_mode, la::usw_attention_reference(in)) < 1e-12);
    CHECK(max_abs_diff(grad_mode, naive_usw(in)) < 1e-12);
    c10::InferenceMode guard;
    CHECK(max_abs_diff(la::usw_attention_blocked(in), grad_mode) == 0.0);
    CHECK(max_abs_diff(la::usw_attention(in), grad_mode) == 0.0);
    CHECK(max_abs_diff(la::usw_attention_reference(in), grad_mode) < 1e-12);
  }
}

TEST_CASE("usw_attention rejects bad inputs", "[attention]") {
  const Case c{2, 2, 6, 2, 2, 4, {6, 3}};
  auto bad = [&](const std::function<void(la::UswInputs&)>& spoil) {
    auto in = make_inputs(c, torch::kFloat, 1);
    spoil(in);
    CHECK_THROWS_AS(la::usw_attention_blocked(in), c10::Error);
    CHECK_THROWS_AS(la::usw_attention_reference(in), c10::Error);
  };
  bad([](auto& in) { in.block_size = 0; });
  bad([](auto& in) { in.k = in.k.narrow(2, 0, 5); });
  bad([](auto& in) { in.v = in.v.to(torch::kDouble); });
  bad([](auto& in) { in.packed_k = in.packed_k.narrow(3, 0, 3); });
  bad([](auto& in) { in.packed_v = in.packed_v.narrow(2, 0, 1); });
  bad([](auto& in) { in.valid = in.valid.to(torch::kLong); });
  bad([](auto& in) { in.valid = in.valid.narrow(1, 0, 5); });
  bad([](auto& in) { in.bias.beta = torch::zeros({3}); });
  bad([](auto& in) { in.bias.alpha = in.bias.alpha.to(torch::kDouble); });
  bad([](auto& in) { in.q = in.q.to(torch::kLong); });
}

TEST_CASE("pack attention matches a per-row softmax and zeroes all-padding rows", "[attention]") {
  const int64_t B = 3, H = 2, s = 4, n = 9, dh = 6;
  torch::manual_seed(11);
  const auto pq = torch::randn({B, H, s, dh}, torch::kDouble);
  const auto k = torch::randn({B, H, n, dh}, torch::kDouble);
  const auto v = torch::randn({B, H, n, dh}, torch::kDouble);
  const std::vector<int64_t> lengths = {9, 4, 0};
  const auto valid = valid_mask(n, lengths);

  const auto out = la::pack_attention(pq, k, v, valid);
  REQUIRE(out.sizes() == pq.sizes());
  REQUIRE(all_finite(out));
  for (int64_t r = 0; r < B; ++r) {
    INFO("batch row " << r);
    const auto len = lengths[r];
    const auto expected =
        len == 0 ? torch::zeros({H, s, dh}, torch::kDouble)
                 : torch::matmul(
                       torch::softmax(torch::matmul(pq[r], k[r].narrow(1, 0, len).transpose(1, 2)) /
                                          std::sqrt(double(dh)),
                                      -1),
                       v[r].narrow(1, 0, len));
    CHECK(max_abs_diff(out[r], expected) < 1e-12);
  }

  // Gradients stay finite with the all-padding row, and none reach padding keys.
  auto kg = k.clone().requires_grad_(true);
  la::pack_attention(pq, kg, v, valid).sum().backward();
  CHECK(all_finite(kg.grad()));
  CHECK(kg.grad()[1].narrow(1, 4, n - 4).abs().sum().item<double>() == 0.0);
  CHECK(kg.grad()[2].abs().sum().item<double>() == 0.0);

  CHECK_THROWS_AS(la::pack_attention(pq, k, v, valid.narrow(1, 0, 5)), c10::Error);
  CHECK_THROWS_AS(la::pack_attention(pq, k.to(torch::kFloat), v, valid), c10::Error);
}

TEST_CASE("blocked: many query-block chunks on the CPU", "[attention]") {
  // B*H*b*W = 163840 logits per query block: the CPU path takes these 32 blocks 6 at a time.
  const Case c{2, 4, 2000, 64, 64, 16, {2000, 1234}};
  auto in = make_inputs(c, torch::kDouble, 9);
  for (auto* t : differentiable(in)) t->requires_grad_(true);
  const auto w = torch::randn({c.B, c.H, c.n, c.dh}, torch::kDouble);
  const auto blk = la::usw_attention_blocked(in);
  const auto ref = la::usw_attention_reference(in);
  CHECK(max_abs_diff(blk, ref) < 1e-12);
  const auto take_grads = [&] {
    std::vector<torch::Tensor> g;
    for (auto* t : differentiable(in)) {
      g.push_back(t->grad().clone());
      t->mutable_grad().zero_();
    }
    return g;
  };
  (blk * w).sum().backward();
  const auto g_blk = take_grads();
  (ref * w).sum().backward();
  const auto g_ref = take_grads();
  for (size_t x = 0; x < g_blk.size(); ++x) {
    INFO("input " << x);
    CHECK(max_abs_diff(g_blk[x], g_ref[x]) < 1e-10);
  }
}

TEST_CASE("fused CPU forward equals the oracle and the blocked version over many shapes", "[attention]") {
  std::mt19937 rng(77);
  auto pick = [&](std::vector<int64_t> xs) { return xs[rng() % xs.size()]; };
  int count = 0;
  double worst = 0;
  for (int64_t n : {1, 2, 5, 31, 64, 65, 100, 257, 700}) {
    for (int64_t b : {1, 3, 8, 16, 64}) {
      Case c{pick({1, 2, 3}), pick({1, 2, 4}), n, b, pick({0, 1, 5, 16, 64}), pick({8, 16, 32, 64}), {},
             pick({0, 0, 7, 100})};
      for (int64_t r = 0; r < c.B; ++r) c.lengths.push_back(r == 0 ? n : int64_t(rng() % (n + 1)));
      INFO(describe(c));
      const auto in = make_inputs(c, torch::kFloat, 500 + count++);
      REQUIRE(la::usw_attention_fused_cpu_supports(in));
      const auto fused = la::usw_attention_fused_cpu(in);
      REQUIRE(fused.sizes() == in.q.sizes());
      REQUIRE(all_finite(fused));
      // Against the float64 oracle: at n = 700 a slope of 0.6 makes biases of ~400, whose float32
      // rounding (~3e-5) any float32 implementation shares.
      const double err = max_abs_diff(fused, la::usw_attention_reference(to_double(in)));
      worst = std::max(worst, err);
      CHECK(err <= 5e-5);
      CHECK(max_abs_diff(fused, la::usw_attention_blocked(in)) <= 5e-5);
      for (int64_t r = 0; r < c.B; ++r)  // padded query rows are exactly zero
        CHECK(fused[r].narrow(1, c.lengths[r], n - c.lengths[r]).abs().sum().item<double>() == 0.0);
    }
  }
  WARN("fp32 fused vs oracle, worst max abs error over " << count << " shapes: " << worst);
}

TEST_CASE("fused CPU forward: strided views, long sequences, and when the dispatcher uses it", "[attention]") {
  // q/k/v as the model makes them: (B,n,H,dh) projections viewed as (B,H,n,dh).
  const Case c{2, 3, 3000, 64, 64, 32, {3000, 2222}};
  auto in = make_inputs(c, torch::kFloat, 3);
  for (auto* t : {&in.q, &in.k, &in.v}) *t = t->transpose(1, 2).contiguous().transpose(1, 2);
  REQUIRE(!in.q.is_contiguous());
  const auto blocked = la::usw_attention_blocked(in);
  const auto fused = la::usw_attention_fused_cpu(in);
  CHECK(max_abs_diff(fused, blocked) <= 2e-5);
  {
    c10::InferenceMode guard;  // what the reader runs under: the fused forward
    CHECK(max_abs_diff(la::usw_attention(in), fused) == 0.0);
  }
  // With a gradient to record, the blocked version (autograd through ATen) is used.
  auto grad_in = in;
  grad_in.q = in.q.detach().requires_grad_(true);
  const auto out = la::usw_attention(grad_in);
  CHECK(max_abs_diff(out, blocked) == 0.0);
  out.sum().backward();
  CHECK(grad_in.q.grad().defined());
  // What it does not cover: double, a head size not a multiple of the vector width.
  CHECK(!la::usw_attention_fused_cpu_supports(make_inputs(c, torch::kDouble, 1)));
  CHECK_THROWS_AS(la::usw_attention_fused_cpu(make_inputs({1, 1, 10, 4, 2, 5, {10}}, torch::kFloat, 1)), c10::Error);
}

TEST_CASE("a BiALiBi distance cap changes only the queries farther than it from block 0", "[attention]") {
  // n = 300, b = 16: past the window (2b = 32) only block-0 keys are farther than the cap, so
  // query i sees a different bias iff i - 1 > cap (key j = 0 is alpha at any distance).
  Case c{2, 3, 300, 16, 8, 16, {300, 250}};
  auto uncapped = make_inputs(c, torch::kFloat, 9);
  uncapped.bias.beta = uncapped.bias.gamma = torch::full({c.H}, 0.01f);  // block 0 still seen at 300
  const auto blocked0 = la::usw_attention_blocked(uncapped), fused0 = la::usw_attention_fused_cpu(uncapped);
  for (int64_t cap : {int64_t(299), int64_t(1000)}) {  // no distance exceeds it: the same numbers
    auto in = uncapped;
    in.bias.max_distance = cap;
    CHECK(max_abs_diff(la::usw_attention_blocked(in), blocked0) <= 1e-6);
    CHECK(max_abs_diff(la::usw_attention_fused_cpu(in), fused0) == 0.0);
  }
  const int64_t cap = 100;
  auto in = uncapped;
  in.bias.max_distance = cap;
  const auto ref = la::usw_attention_reference(to_double(in));
  for (const auto& out : {la::usw_attention_blocked(in), la::usw_attention_fused_cpu(in)}) {
    CHECK(max_abs_diff(out, ref) <= 2e-5);
    CHECK(max_abs_diff(out.narrow(2, 0, cap + 2), fused0.narrow(2, 0, cap + 2)) <= 1e-5);
    CHECK(max_abs_diff(out.narrow(2, cap + 2, 100), fused0.narrow(2, cap + 2, 100)) > 1e-3);
  }
  {
    c10::InferenceMode guard;  // the reader's path: the dispatcher's fused forward, capped
    CHECK(max_abs_diff(la::usw_attention(in), la::usw_attention_fused_cpu(in)) == 0.0);
  }
  in.bias.max_distance = -1;
  CHECK_THROWS_AS(la::usw_attention_blocked(in), c10::Error);
}
