unit libunit;
interface
function lib_answer: integer;
implementation
function lib_answer: integer;
begin
  lib_answer := 44;
end;
end.
