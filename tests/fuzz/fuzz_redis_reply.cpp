// libFuzzer target: what the Redis store makes of Redis's replies
// (server/store/redis/decode.hpp), from the bytes on the wire: hiredis's own
// reply reader (the one the connection uses) parses RESP, then copy_reply()
// and the decoder of one of the store's commands read it.
// Besides "no crash, no leak, no UB": decoded records keep the invariants
// the hub relies on (a known state, seqs from the reply).
// Input: one byte choosing the command (mod 7: HGETALL, list_conversations,
// list_window, append, XRANGE, MGET of presence, LRANGE of the audit), then
// RESP bytes: every complete reply in them is decoded.
// Seeds: tests/fuzz/seeds/redis_reply (make_seeds.py).
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/store/redis/decode.hpp"

using namespace calma;
using calma::redis::redis_value;

namespace {

void decode(unsigned which, const redis_value& v) {
  switch (which % 7) {
    case 0:
      if (auto c = redis::record_from(v)) (void)to_string(c->state);
      break;
    case 1:
      (void)redis::records_from(v);
      break;
    case 2:
      (void)redis::window_page_from(v);
      break;
    case 3: {
      chat_message sent;
      sent.conversation_id = "c1";
      sent.client_msg_id = "m1";
      sent.text = "hola";
      if (auto r = redis::append_result_from(v, sent)) {
        if (r->message.conversation_id != "c1") {
          std::fprintf(stderr, "fuzz_redis_reply: append result names another conversation\n");
          std::abort();
        }
      }
      break;
    }
    case 4:
      (void)redis::messages_from("c1", v);
      break;
    case 5: {
      std::vector<std::string> ids{"agent", "agent2", "supervisor"};
      std::vector<std::string> gone;
      auto out = redis::presence_from(ids, v, gone);
      if (out.size() + gone.size() > ids.size()) {
        std::fprintf(stderr, "fuzz_redis_reply: more presence records than ids\n");
        std::abort();
      }
      break;
    }
    case 6:
      (void)redis::to_i64(v.str);
      break;
  }
}

// hiredis allocates an array's slots as soon as it reads "*N": a reply of a
// billion elements is a 8 GB calloc before any element arrives. Redis is not
// an adversary about sizes (the store asks with COUNT and limits), so arrays
// are bounded here, through hiredis's own reply functions.
redisReplyObjectFunctions functions;
void* (*default_create_array)(const redisReadTask*, int) = nullptr;
void* bounded_create_array(const redisReadTask* task, int elements) {
  return elements > 100000 ? nullptr : default_create_array(task, elements);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned which = data[0];
  if (!default_create_array) {
    redisReader* probe = redisReaderCreate();
    functions = *probe->fn;
    redisReaderFree(probe);
    default_create_array = functions.createArray;
    functions.createArray = bounded_create_array;
  }
  redisReader* reader = redisReaderCreateWithFunctions(&functions);
  if (redisReaderFeed(reader, reinterpret_cast<const char*>(data + 1), size - 1) != REDIS_OK) {
    redisReaderFree(reader);
    return 0;
  }
  for (int n = 0; n < 64; ++n) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK || reply == nullptr) break;
    const redis_value v = redis::copy_reply(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
    decode(which, v);
  }
  redisReaderFree(reader);
  return 0;
}
