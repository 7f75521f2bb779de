#include "longqa/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace longqa {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  std::ostringstream out;
  if (s >= 3600) out << s / 3600 << ":" << std::setw(2) << std::setfill('0') << s / 60 % 60;
  else out << s / 60;
  out << ":" << std::setw(2) << std::setfill('0') << s % 60;
  return out.str();
}

Progress::Progress(std::string unit, int64_t total, std::ostream& out)
    : unit_(std::move(unit)), total_(total), out_(out), tty_(&out == &std::cerr && ::isatty(STDERR_FILENO)) {}

Progress::Progress(std::string unit, int64_t total) : Progress(std::move(unit), total, std::cerr) {}

void Progress::update(int64_t done, const std::string& extra) {
  const double elapsed = clock_.seconds();
  if (elapsed - last_ < (tty_ ? 0.2 : 10.0)) return;
  last_ = elapsed;
  draw(done, extra, elapsed);
}

void Progress::show(int64_t done, const std::string& extra) {
  last_ = clock_.seconds();
  draw(done, extra, last_);
}

void Progress::finish(int64_t done, const std::string& extra) {
  if (tty_ || done != drawn_) draw(done, extra, clock_.seconds());
  if (tty_) out_ << "\n" << std::flush;
}

void Progress::clear() const {
  if (tty_) out_ << "\r\033[K" << std::flush;
}

void Progress::draw(int64_t done, const std::string& extra, double elapsed) {
  drawn_ = done;
  const double rate = elapsed > 0 ? static_cast<double>(done - start_) / elapsed : 0;
  std::ostringstream line;
  if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    const int filled = static_cast<int>(fraction * 24);
    line << "[" << std::string(static_cast<size_t>(filled), '#') << std::string(static_cast<size_t>(24 - filled), '.')
         << "] " << std::setw(3) << static_cast<int>(fraction * 100) << "%  " << done << "/" << total_;
  } else {
    line << done;
  }
  line << " " << unit_;
  if (!extra.empty()) line << "  " << extra;
  line << "  " << std::fixed << std::setprecision(1) << rate << " " << unit_ << "/s";
  if (total_ > 0 && rate > 0 && done < total_) line << "  ETA " << format_duration(static_cast<double>(total_ - done) / rate);
  line << "  " << format_duration(elapsed);
  out_ << (tty_ ? "\r\033[K" : "") << line.str() << (tty_ ? "" : "\n") << std::flush;
}

}  // namespace longqa
