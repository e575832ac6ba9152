program error;
begin
  writeln(undeclared_variable);
end.
