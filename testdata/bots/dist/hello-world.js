"use strict";
// Built from src/hello-world.ts (what npm run build would write).
exports.handler = async function (_medplum, event) {
  var name = (event.input && event.input.name) || 'world';
  return { greeting: 'Hello, ' + name + '!' };
};
