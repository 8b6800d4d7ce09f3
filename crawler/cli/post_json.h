// The JSON-lines form of a post shared by `earshot parse` (which prints it)
// and `earshot import` (which reads it): one object per line with platform,
// id, url, title, author, text, created_at (RFC 3339 UTC "Z" or null),
// reply_to, conversation, language.
#pragma once

#include <string>
#include <string_view>

#include "crawler/core/post.h"
#include "crawler/core/status.h"

namespace earshot {

std::string PostToJsonLine(const Post& post);

// Reads one line of that form. Unknown members are ignored; platform, id and
// text are required; created_at must be RFC 3339 when present.
Result<Post> PostFromJsonLine(std::string_view line);

}  // namespace earshot
