// The store's Lua scripts (server/store/redis/lua/*.lua), embedded at build time.
#pragma once

#include <string_view>

namespace calma::redis::lua {
extern const std::string_view append;              ///< lua/append.lua
extern const std::string_view put_conversation;    ///< lua/put_conversation.lua
extern const std::string_view list_conversations;  ///< lua/list_conversations.lua
extern const std::string_view trim_indexes;        ///< lua/trim_indexes.lua
extern const std::string_view append_audit;        ///< lua/append_audit.lua
extern const std::string_view list_window;         ///< lua/list_window.lua
}  // namespace calma::redis::lua
