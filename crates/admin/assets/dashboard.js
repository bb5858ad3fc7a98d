// Placeholder of the dashboard script (its front-end comes from the dashboard branch).
"use strict";
