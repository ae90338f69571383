// Entry point of the WebSocket side; the session class lives in ws_session.cpp
// so that the WebSocket stream is instantiated in one translation unit only.
#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/net/net.hpp"

namespace calma {

/// Takes over an upgraded connection: accepts the WebSocket handshake for
/// `req` and runs the session until it closes.
void start_websocket(boost::asio::ip::tcp::socket&& socket,
                     boost::beast::http::request<boost::beast::http::string_body>&& req,
                     std::shared_ptr<net_context> ctx);

}  // namespace calma
