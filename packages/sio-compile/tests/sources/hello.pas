program hello;
begin
  writeln('Hello from Pascal');
end.
