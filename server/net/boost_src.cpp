// Asio and Beast compiled once, here (BOOST_*_SEPARATE_COMPILATION): every
// other translation unit only declares them, which keeps rebuilds fast.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
