// What the hub sees of a client connection: somewhere to send frames.
// Implemented by net/ws_session; kept free of Beast so the hub compiles light.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace calma {

using frame_ptr = std::shared_ptr<const std::string>;
inline frame_ptr make_frame(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

class connection {
 public:
  virtual ~connection() = default;
  virtual std::uint64_t id() const = 0;
  /// Queues a frame; callable from any thread. A connection over its queue
  /// limit closes itself ("slow consumer"); the frame is then dropped.
  virtual void send(frame_ptr frame) = 0;
  /// Closes after the frames already queued; callable from any thread.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  /// The cluster node the client is connected to, when not this process.
  virtual std::string_view node() const { return {}; }
  /// The browser's Origin and the Host it asked for, at the upgrade ("" when
  /// unknown: not a browser, or relayed from another node that checked it).
  virtual std::string_view origin() const { return {}; }
  virtual std::string_view host() const { return {}; }
  /// The client's address (behind a trusted proxy: the one it forwards for), "" when unknown.
  virtual std::string_view address() const { return {}; }
  /// Counted in the connection gauges: false for the second and later legs of
  /// a client served by several hub shards (fan_in.hpp), which is one connection.
  virtual bool counted() const { return true; }
  /// The hub shard serving it (shard_set.hpp): set at its hello, read for its
  /// frames and its detach, all on the session's own thread.
  std::uint32_t shard() const { return shard_; }
  void set_shard(std::uint32_t k) { shard_ = k; }
  /// The plan of the shards it said hello under (shard_set re-plans when the
  /// users file joins or splits store groups), kept alive by it: its frames and
  /// detach go there. Null before its hello, and for a hello refused meanwhile.
  const std::shared_ptr<void>& generation() const { return generation_; }
  void set_generation(std::shared_ptr<void> g) { generation_ = std::move(g); }
  /// Its hello reached no hub (refused while the shards were planned again).
  bool refused_hello() const { return refused_hello_; }
  void set_refused_hello() { refused_hello_ = true; }

 private:
  std::uint32_t shard_ = 0;
  bool refused_hello_ = false;
  std::shared_ptr<void> generation_;
};

}  // namespace calma
