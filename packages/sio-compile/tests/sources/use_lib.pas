program uselib;
uses libunit;
begin
  writeln('answer ', lib_answer);
end.
