#include "server/report_runner.hpp"

#include <boost/asio/post.hpp>

#include "common/reports/csv.hpp"
#include "common/reports/summary.hpp"

namespace calma {

void report_runner::walk(window_query q, std::shared_ptr<std::function<void(const conversation_record&)>> each,
                         std::function<void(std::string)> done) {
  q.limit = page_size;
  store_.list_window(q, [this, q, each, done = std::move(done)](result<window_page> r) mutable {
    boost::asio::post(pool_, [this, q, each, done = std::move(done), r = std::move(r)]() mutable {
      if (!r.ok()) return done(r.error);
      for (const auto& c : r.value.records) (*each)(c);
      if (!r.value.next) return done({});
      q.cursor = *r.value.next;
      walk(q, each, std::move(done));
    });
  });
}

void report_runner::summary(window_query q, std::function<void(result<nlohmann::json>)> done) {
  auto acc = std::make_shared<reports::summary_accumulator>();
  auto each = std::make_shared<std::function<void(const conversation_record&)>>(
      [acc](const conversation_record& c) { acc->add(c); });
  walk(std::move(q), each, [acc, done = std::move(done)](std::string err) {
    if (!err.empty()) return done({{}, err});
    done({acc->result(), {}});
  });
}

void report_runner::csv(window_query q, std::function<void(result<std::string>)> done) {
  auto out = std::make_shared<std::string>(reports::csv_header());
  auto each = std::make_shared<std::function<void(const conversation_record&)>>(
      [out](const conversation_record& c) { *out += reports::csv_row(c); });
  walk(std::move(q), each, [out, done = std::move(done)](std::string err) {
    if (!err.empty()) return done({{}, err});
    done({std::move(*out), {}});
  });
}

}  // namespace calma
