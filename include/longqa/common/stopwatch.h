// Wall-clock timing of stages, and durations as people read them.
#pragma once
#include <chrono>
#include <string>

namespace longqa {

class Stopwatch {
 public:
  using Clock = std::chrono::steady_clock;
  Stopwatch() : start_(Clock::now()) {}
  void restart() { start_ = Clock::now(); }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double ms() const { return seconds() * 1e3; }
  Clock::time_point started() const { return start_; }

 private:
  Clock::time_point start_;
};

inline double ms_between(Stopwatch::Clock::time_point a, Stopwatch::Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
inline double seconds_since(Stopwatch::Clock::time_point t) {
  return std::chrono::duration<double>(Stopwatch::Clock::now() - t).count();
}

// "m:ss" under an hour, "h:mm:ss" from one hour (rounded to the second).
std::string format_duration(double seconds);

}  // namespace longqa
