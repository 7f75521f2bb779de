// Progress of a long job on stderr: redrawn in place on a terminal (every 0.2 s), a plain
// line every 10 s otherwise (logs stay readable). Shows count/total, a bar and percentage
// when the total is known, the rate, the ETA, elapsed time, and a caller's extra text.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>

#include "longqa/common/stopwatch.h"

namespace longqa {

class Progress {
 public:
  // `unit`: what is counted ("documents", "questions", "steps"); total 0 = unknown.
  Progress(std::string unit, int64_t total, std::ostream& out);
  explicit Progress(std::string unit, int64_t total = 0);
  // A resumed job: the rate and the ETA count only what is done from `done` on.
  Progress& starting_at(int64_t done) {
    start_ = done;
    return *this;
  }

  // Draws when enough time has passed since the last line.
  void update(int64_t done, const std::string& extra = "");
  // Draws now (for reports at fixed points, e.g. every N training steps).
  void show(int64_t done, const std::string& extra = "");
  // The last line (always on a terminal; elsewhere unless it was just drawn), then a newline.
  void finish(int64_t done, const std::string& extra = "");
  // Before another message, so that it does not land in the middle of the bar.
  void clear() const;

  double elapsed_seconds() const { return clock_.seconds(); }

 private:
  void draw(int64_t done, const std::string& extra, double elapsed);

  std::string unit_;
  int64_t total_, start_ = 0;
  std::ostream& out_;
  bool tty_;
  Stopwatch clock_;
  double last_ = -1e9;
  int64_t drawn_ = -1;
};

}  // namespace longqa
