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
/// `req` and runs the session until it closes. `early`: bytes the client sent
/// behind its request (its first frames), read before anything else. `pass`
/// counts the connection at the doors for as long as it lives; `client` is
/// the client's address.
void start_websocket(boost::asio::ip::tcp::socket&& socket,
                     boost::beast::http::request<boost::beast::http::string_body>&& req, std::string early,
                     std::shared_ptr<net_context> ctx, door_pass pass, std::string client);

}  // namespace calma
