// Handler memory of exactly the size an operation asks for, from the heap.
//
// By default Asio gives a new operation a block cached on its thread when one
// is big enough (thread_info_base's recycling), whatever its size: the block
// of the HTTP read that took a connection's upgrade request (~530 bytes) went
// on to hold that connection's ~150-byte timer wait, pending for the
// connection's whole life. Bound to a handler (asio::bind_allocator), this
// allocator bypasses the cache for that operation: one malloc and one free
// per wait, the size it needs while it waits.
#pragma once

#include <cstddef>
#include <memory>

namespace calma {

template <class T = void>
struct exact_allocator {
  using value_type = T;
  exact_allocator() noexcept = default;
  template <class U>
  exact_allocator(const exact_allocator<U>&) noexcept {}  // NOLINT: rebinding, as std::allocator
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  template <class U>
  bool operator==(const exact_allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace calma
