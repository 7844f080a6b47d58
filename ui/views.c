/* views: the array of views, generated from the one list in ui/views.h. */
#include "ui/view.h"

#define VIEW_DECL(id, prefix) extern const struct view_ops view_##prefix##_ops;
UI_VIEWS(VIEW_DECL)
#undef VIEW_DECL

#define VIEW_PTR(id, prefix) [UV_##id] = &view_##prefix##_ops,
const struct view_ops *const ui_views[UV__COUNT] = {UI_VIEWS(VIEW_PTR)};
#undef VIEW_PTR
